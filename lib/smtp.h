/*
 * SMTP parsing that must agree byte for byte with qmail: the command
 * classifier of qmail's commands.c, the end-of-data state machine of
 * qmail-smtpd's blast(), and reply lines (code, last line of a reply,
 * EHLO keywords).
 */
#ifndef SMTP_H
#define SMTP_H

#include <stddef.h>

enum smtp_verb {
	SMTP_OTHER = 0,
	SMTP_HELO,
	SMTP_EHLO,
	SMTP_MAIL,
	SMTP_RCPT,
	SMTP_DATA,
	SMTP_QUIT,
	SMTP_STARTTLS
};

int	smtp_verb(const char *line, size_t len, int complete, int *hasarg);
const char *smtp_verbname(int verb);

enum smtp_body_end {
	SMTP_BODY_MORE = 0,	/* the message goes on */
	SMTP_BODY_END,		/* "\r\n.\r\n" seen */
	SMTP_BODY_STRAY		/* bare LF: qmail-smtpd answers 451 and exits */
};

struct smtp_body {
	int	 state;
	int	 loose;		/* after a bare LF: a line of "." ends it */
};

void	smtp_body_init(struct smtp_body *b);
void	smtp_body_loosen(struct smtp_body *b);
size_t	smtp_body_scan(struct smtp_body *b, const char *p, size_t len,
	    int *end);

int	smtp_reply_code(const char *p, size_t len);
int	smtp_reply_last(const char *p, size_t len);
int	smtp_ehlo_keyword(const char *p, size_t len, const char *kw);

#endif
