/*
 * The qmail-tls patch's TLS policy for a mail server, from the control
 * directory: tlshosts/<host>.pem, notlshosts/<host>,
 * tlshosts/exhaustivelist (see starttls-remote(8)).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"

/* Does dir/sub/name<suffix> exist, spelled as given or in lower case? */
static int
policy_file(const char *dir, const char *sub, const char *name,
    const char *lower, const char *suffix, char *path, size_t pathlen)
{
	snprintf(path, pathlen, "%s/%s/%s%s", dir, sub, name, suffix);
	if (access(path, F_OK) == 0)
		return 1;
	snprintf(path, pathlen, "%s/%s/%s%s", dir, sub, lower, suffix);
	return access(path, F_OK) == 0;
}

/*
 * The TLS policy for a mail server, by its host name as found in the MX
 * record, the relay's name from smtproutes, or the domain itself when it
 * has no MX: as the qmail-tls patch keys it, and in its order: a
 * tlshosts/<host>.pem always wins.  The name is tried as DNS spelled it
 * (as the patch does) and in lower case, without a trailing dot.  pem
 * gets the path of the file that decided: the .pem file for POLICY_VERIFY,
 * the notlshosts file or exhaustivelist for POLICY_NONE.
 */
enum tls_policy
policy_lookup(const char *dir, const char *host, char *pem, size_t pemlen)
{
	char		 name[256], lower[256];
	size_t		 i, len = strlen(host);
	unsigned char	 addr[16];

	/* an address has no name to look up or to check: opportunistic */
	if (host[0] == '[' || inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1)
		return POLICY_MAY;
	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len == 0 || len >= sizeof(name) || host[0] == '.')
		return POLICY_MAY;
	for (i = 0; i < len; i++) {
		if (host[i] == '/')
			return POLICY_MAY;		/* never a path */
		name[i] = host[i];
		lower[i] = host[i] >= 'A' && host[i] <= 'Z' ?
		    host[i] - 'A' + 'a' : host[i];
	}
	name[len] = lower[len] = '\0';
	if (policy_file(dir, "tlshosts", name, lower, ".pem", pem, pemlen))
		return POLICY_VERIFY;
	if (policy_file(dir, "notlshosts", name, lower, "", pem, pemlen))
		return POLICY_NONE;
	snprintf(pem, pemlen, "%s/tlshosts/exhaustivelist", dir);
	if (access(pem, F_OK) == 0)
		return POLICY_NONE;
	return POLICY_MAY;
}
