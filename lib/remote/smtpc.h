/*
 * The client end of an SMTP conversation, for starttls-remote: replies
 * read as qmail-remote reads them, commands written with a time limit,
 * over a conn that may switch to TLS.
 */
#ifndef SMTPC_H
#define SMTPC_H

#include <stddef.h>

#include "conn.h"

#define SMTPC_TEXTMAX	5000	/* qmail-remote's HUGESMTPTEXT */

struct smtpc {
	struct conn	 conn;
	int		 timeout;	/* ms, for each read or write */
	char		 in[16384];
	size_t		 inoff, inlen;
	char		 text[SMTPC_TEXTMAX + 1];	/* last reply, CRs removed */
	size_t		 textlen;
	int		 died;		/* read or write failed */
};

void	smtpc_init(struct smtpc *s, int fd, int timeout_ms);
int	smtpc_reply(struct smtpc *s);
int	smtpc_send(struct smtpc *s, const char *p, size_t len);
int	smtpc_puts(struct smtpc *s, const char *p);
int	smtpc_keyword(const struct smtpc *s, const char *kw);
size_t	smtpc_discard(struct smtpc *s);

#endif
