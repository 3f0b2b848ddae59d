/*
 * qmail-smtpd's own Received field, found and told that TLS was used
 * (starttls-received).  Pure functions: no I/O.
 */
#ifndef RECEIVED_H
#define RECEIVED_H

#include <stddef.h>

enum received_head {
	RECEIVED_MORE,		/* not decided yet: read on */
	RECEIVED_OTHER,		/* not qmail-smtpd's field: leave it alone */
	RECEIVED_QMAIL		/* qmail-smtpd's field, "with SMTP" found */
};

/* the longest field of qmail-smtpd's that is looked at, in bytes */
#define RECEIVED_MAX	(64 * 1024)

enum received_head
		 received_find(const char *, size_t, size_t *, size_t *);
int		 received_protocol(char *out, size_t outlen,
	    const char *version, const char *cipher, const char *verify);
const char	*received_iana(const char *cipher);

#endif
