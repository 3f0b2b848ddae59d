/*
 * MX host names as policies see them.  The MX answer is the attacker's
 * to forge unless DNSSEC validated it, so a name is taken as a name only
 * when it is one: letters, digits, '-' and '_' in labels of 1 to 63
 * characters, the last not all digits.  An address ("192.0.2.1"), an
 * address literal ("[192.0.2.1]"), a path ("a/b"), an empty label: none
 * of them is a name, and none matches a pattern, so no domain rule ever
 * lets one through and no host-level file is looked up for it.
 */
#include <ctype.h>
#include <string.h>

#include "mxname.h"

/*
 * host as a name: lower case, without one trailing dot, into out.  1, or
 * 0 when host is no name at all.
 */
int
mxname_normal(const char *host, char *out, size_t outlen)
{
	size_t	 i, len = strlen(host), label = 0, digits = 0;
	int	 c;

	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len == 0 || len >= MXNAME_MAX || len >= outlen)
		return 0;
	for (i = 0; i < len; i++) {
		c = tolower((unsigned char)host[i]);
		if (c == '.') {
			if (label == 0)
				return 0;
			label = digits = 0;
		} else if ((c >= 'a' && c <= 'z') || c == '-' || c == '_') {
			label++;
		} else if (c >= '0' && c <= '9') {
			label++;
			digits++;
		} else
			return 0;
		if (label > 63)
			return 0;
		out[i] = (char)c;
	}
	out[len] = '\0';
	/* "192.0.2.1", "1.2.3.4.5": no top-level domain is all digits */
	return label > 0 && digits < label;
}

/*
 * A pattern from a policy (s, len bytes), checked and in lower case into
 * out: "mx.example.com", "*.example.com" (one label before
 * example.com), or ".example.com" (any name below example.com; local
 * rules only, MTA-STS has no such pattern).  1, or 0 if it is none.
 */
int
mxname_pattern(const char *s, size_t len, char *out, size_t outlen)
{
	char	 buf[MXNAME_MAX + 2];
	size_t	 skip = 0;

	if (len >= 2 && s[0] == '*' && s[1] == '.')
		skip = 2;
	else if (len >= 1 && s[0] == '.')
		skip = 1;
	if (len <= skip || len >= sizeof(buf) || len >= outlen ||
	    s[len - 1] == '.')
		return 0;
	memcpy(buf, s + skip, len - skip);
	buf[len - skip] = '\0';
	memcpy(out, s, skip);
	return mxname_normal(buf, out + skip, outlen - skip);
}

/*
 * Does name (from mxname_normal) match pattern (from mxname_pattern)?
 * "*.example.com" matches "mx.example.com", never "example.com" nor
 * "a.b.example.com" (RFC 8461 4.1); ".example.com" matches any name that
 * ends in it.
 */
int
mxname_match(const char *pattern, const char *name)
{
	const char	*dot;
	size_t		 plen = strlen(pattern), nlen = strlen(name);

	if (pattern[0] == '*') {
		if ((dot = strchr(name, '.')) == NULL || dot == name)
			return 0;
		return strcmp(dot, pattern + 1) == 0;
	}
	if (pattern[0] == '.')
		return nlen > plen && strcmp(name + nlen - plen, pattern) == 0;
	return strcmp(name, pattern) == 0;
}
