/*
 * Reading SMTP replies as qmail-remote's smtpcode() does: the code is the
 * first line's three digits, a '-' after them announces another line,
 * and the text kept for the report is every byte but CR, up to 5000.
 * Lines may be any length: nothing is held but the text.
 */
#include <sys/types.h>

#include <errno.h>
#include <string.h>

#include "conn.h"
#include "io.h"
#include "smtp.h"
#include "smtpc.h"

void
smtpc_init(struct smtpc *s, int fd, int timeout_ms)
{
	memset(s, 0, sizeof(*s));
	conn_init(&s->conn, fd, fd);
	s->timeout = timeout_ms;
}

/* Next byte from the server, or -1 when the connection died. */
static int
next_byte(struct smtpc *s)
{
	ssize_t	 r;
	long	 deadline = io_now() + s->timeout;
	char	 ch;

	if (s->died)
		return -1;
	while (s->inoff == s->inlen) {
		r = conn_read(&s->conn, s->in, sizeof(s->in));
		if (r == CONN_AGAIN) {
			if (io_wait(s->conn.rwaitfd, s->conn.rwaitev,
			    deadline) != 1) {
				s->died = 1;
				return -1;
			}
			continue;
		}
		if (r <= 0) {
			s->died = 1;
			return -1;
		}
		s->inoff = 0;
		s->inlen = (size_t)r;
	}
	ch = s->in[s->inoff++];
	if (ch != '\r' && s->textlen < SMTPC_TEXTMAX)
		s->text[s->textlen++] = ch;
	return (unsigned char)ch;
}

/* A whole reply: its code, or -1 if the connection died. */
int
smtpc_reply(struct smtpc *s)
{
	int	 c, i, code = 0, bad = 0;

	s->textlen = 0;
	for (i = 0; i < 3; i++) {
		if ((c = next_byte(s)) == -1)
			return -1;
		if (c < '0' || c > '9')
			bad = 1;
		code = code * 10 + (c - '0');
	}
	/* garbage is never success: take it for a temporary failure */
	if (bad || code < 100)
		code = 400;
	for (;;) {
		if ((c = next_byte(s)) == -1)
			return -1;
		if (c != '-')
			break;
		while (c != '\n')
			if ((c = next_byte(s)) == -1)
				return -1;
		for (i = 0; i < 3; i++)
			if ((c = next_byte(s)) == -1)
				return -1;
	}
	while (c != '\n')
		if ((c = next_byte(s)) == -1)
			return -1;
	s->text[s->textlen] = '\0';
	return code;
}

int
smtpc_send(struct smtpc *s, const char *p, size_t len)
{
	if (s->died)
		return -1;
	if (conn_writeall(&s->conn, p, len, io_now() + s->timeout) == -1) {
		s->died = 1;
		return -1;
	}
	return 0;
}

int
smtpc_puts(struct smtpc *s, const char *p)
{
	return smtpc_send(s, p, strlen(p));
}

/* Did the last (EHLO) reply announce the keyword, on a line but the first? */
int
smtpc_keyword(const struct smtpc *s, const char *kw)
{
	const char	*line, *nl, *end = s->text + s->textlen;

	line = memchr(s->text, '\n', s->textlen);
	for (; line != NULL && ++line < end; line = nl) {
		nl = memchr(line, '\n', end - line);
		if (smtp_ehlo_keyword(line, (nl != NULL ? nl : end) - line, kw))
			return 1;
	}
	return 0;
}

/*
 * Throw away what the server sent after the reply just read: before a
 * TLS handshake that is plaintext injection.  Returns the byte count.
 */
size_t
smtpc_discard(struct smtpc *s)
{
	size_t	 n = s->inlen - s->inoff;

	s->inoff = s->inlen = 0;
	return n;
}
