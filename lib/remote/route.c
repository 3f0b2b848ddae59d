/*
 * qmail's control/smtproutes, as qmail-remote reads it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "route.h"

/*
 * The relay for host in smtproutes ("domain:relay[:port]" lines, the
 * text of routeslen bytes at routes): looked up for host, then each
 * ".suffix" of it, then "" for a default route.  1 with the relay in
 * relay (and *port set when the line gives one), or 0: no route, or
 * "domain:" (which means: the usual MX lookup).
 */
int
route_find(const char *routes, size_t routeslen, const char *host,
    char *relay, size_t relaylen, int *port)
{
	const char	*key, *line, *end, *nl, *colon;
	size_t		 klen, i, hlen = strlen(host);
	char		*p;

	for (i = 0; i <= hlen; i++) {
		if (i != 0 && i != hlen && host[i] != '.')
			continue;
		key = host + i;
		klen = hlen - i;
		end = routes + routeslen;
		for (line = routes; line != NULL && line < end; line = nl) {
			nl = memchr(line, '\n', end - line);
			colon = memchr(line, ':', (nl ? nl : end) - line);
			if (nl != NULL)
				nl++;
			if (colon == NULL || (size_t)(colon - line) != klen ||
			    strncasecmp(line, key, klen) != 0)
				continue;
			line = colon + 1;
			i = (size_t)((nl ? nl - 1 : end) - line);
			while (i > 0 && (line[i - 1] == '\r' ||
			    line[i - 1] == ' ' || line[i - 1] == '\t'))
				i--;
			if (i == 0 || i >= relaylen)
				return 0;	/* "domain:" means MX */
			memcpy(relay, line, i);
			relay[i] = '\0';
			/* the port follows the host, or a [literal] */
			p = relay[0] == '[' ? strchr(relay, ']') : relay;
			if (p != NULL && (p = strchr(p, ':')) != NULL) {
				*p++ = '\0';
				*port = atoi(p);
			}
			return 1;
		}
	}
	return 0;
}
