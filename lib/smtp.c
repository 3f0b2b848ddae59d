/*
 * SMTP parsing shared by both halves.  The client-line rules are qmail's,
 * not RFC 5321's, on purpose: starttls-smtpd decides what is a STARTTLS or
 * a DATA command, and if it read a line differently from the qmail-smtpd
 * behind it, a client could make the two disagree about where a command
 * ends and so smuggle a command past the STARTTLS boundary.
 */
#include <string.h>
#include <strings.h>

#include "smtp.h"

static const struct {
	const char	*name;
	int		 verb;
} verbs[] = {
	{ "helo", SMTP_HELO },
	{ "ehlo", SMTP_EHLO },
	{ "mail", SMTP_MAIL },
	{ "rcpt", SMTP_RCPT },
	{ "data", SMTP_DATA },
	{ "quit", SMTP_QUIT },
	{ "starttls", SMTP_STARTTLS },
};

/*
 * Classify one client line as qmail's commands() does: the line is what
 * precedes '\n', less one trailing '\r'; it is a C string, so a NUL ends
 * it; the verb runs to the first space (or that end) and is compared
 * without case; the argument is what follows the spaces after the verb.
 *
 * line/len is the line without its '\n'.  complete is 0 when it is only
 * the start of a line too long to hold: then a verb that has not ended
 * within len bytes is no verb we know, and an argument that has not
 * started yet is taken to exist.  *hasarg tells whether there is one.
 */
int
smtp_verb(const char *line, size_t len, int complete, int *hasarg)
{
	size_t	 i, n, v;

	if (complete && len > 0 && line[len - 1] == '\r')
		len--;
	for (n = 0; n < len && line[n] != ' ' && line[n] != '\0'; n++)
		;
	*hasarg = 0;
	if (n == len && !complete) {
		*hasarg = 1;
		return SMTP_OTHER;
	}
	if (n < len && line[n] == ' ') {
		for (i = n; i < len && line[i] == ' '; i++)
			;
		if (i == len)
			*hasarg = !complete;
		else
			*hasarg = line[i] != '\0';
	}
	for (v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
		if (strlen(verbs[v].name) == n &&
		    strncasecmp(verbs[v].name, line, n) == 0)
			return verbs[v].verb;
	return SMTP_OTHER;
}

const char *
smtp_verbname(int verb)
{
	size_t	 v;

	for (v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
		if (verbs[v].verb == verb)
			return verbs[v].name;
	return "other";
}

/*
 * The states of qmail-smtpd's blast(), which reads the message after 354:
 * 0 inside a line, 1 just after "\r\n" (the body starts here), 2 after
 * "\r\n.", 3 after "\r\n.\r", 4 after "\r".  A '\n' in states 0, 1 or 2 is
 * a bare LF, which qmail-smtpd refuses; "\n" in state 3 ends the message.
 */
void
smtp_body_init(struct smtp_body *b)
{
	b->state = 1;
	b->loose = 0;
}

/*
 * After a bare LF, read on as qmail-smtpd does behind fixcrio (which
 * turns every bare LF into CRLF): the message ends at a line of "."
 * with or without its CR, and nothing is stray any more.  Stock
 * qmail-smtpd answers 451 and exits instead; the caller learns which
 * from the server's reply.
 */
void
smtp_body_loosen(struct smtp_body *b)
{
	b->state = 1;
	b->loose = 1;
}

/*
 * The loose scan: 1 at the start of a line, 2 after a "." there, 3
 * after ".\r" there, 0 elsewhere in a line.
 */
static size_t
body_scan_loose(struct smtp_body *b, const char *p, size_t len, int *end)
{
	size_t	 i;
	int	 s = b->state;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n' && (s == 2 || s == 3)) {
			b->state = 1;
			*end = SMTP_BODY_END;
			return i + 1;
		}
		if (p[i] == '\n')
			s = 1;
		else if (p[i] == '.' && s == 1)
			s = 2;
		else if (p[i] == '\r' && s == 2)
			s = 3;
		else
			s = 0;
	}
	b->state = s;
	return len;
}

/*
 * Feed message bytes; returns how many belong to the message (all of them,
 * or up to and including the '\n' that ends it or is a bare LF) and sets
 * *end to say which.
 */
size_t
smtp_body_scan(struct smtp_body *b, const char *p, size_t len, int *end)
{
	const char	*nl;
	size_t		 i, n;
	int		 c, s = b->state;

	*end = SMTP_BODY_MORE;
	if (b->loose)
		return body_scan_loose(b, p, len, end);
	for (i = 0; i < len; i++) {
		if (s == 0) {
			/*
			 * Inside a line only the next '\n' can matter: a CR
			 * right before it makes it a line end (state 1),
			 * anything else a bare LF.  memchr finds it fast.
			 */
			nl = memchr(p + i, '\n', len - i);
			if (nl == NULL) {
				s = p[len - 1] == '\r' ? 4 : 0;
				break;
			}
			n = (size_t)(nl - p);
			if (n > i && p[n - 1] == '\r') {
				s = 1;
				i = n;
				continue;
			}
			b->state = 0;
			*end = SMTP_BODY_STRAY;
			return n + 1;
		}
		c = (unsigned char)p[i];
		switch (s) {
		case 0:
		case 1:
		case 2:
			if (c == '\n') {
				b->state = s;
				*end = SMTP_BODY_STRAY;
				return i + 1;
			}
			if (c == '\r')
				s = s == 2 ? 3 : 4;
			else if (s == 1 && c == '.')
				s = 2;
			else
				s = 0;
			break;
		case 3:
			if (c == '\n') {
				b->state = 1;
				*end = SMTP_BODY_END;
				return i + 1;
			}
			s = c == '\r' ? 4 : 0;
			break;
		case 4:
			if (c == '\n')
				s = 1;
			else if (c != '\r')
				s = 0;
			break;
		}
	}
	b->state = s;
	return len;
}

/* The three-digit code of a reply line, or -1 if it does not start with one. */
int
smtp_reply_code(const char *p, size_t len)
{
	if (len < 3 || p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' ||
	    p[2] < '0' || p[2] > '9')
		return -1;
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/* Only "NNN-" announces another line; anything else ends the reply. */
int
smtp_reply_last(const char *p, size_t len)
{
	return len < 4 || p[3] != '-';
}

/*
 * Does this EHLO reply line (not the first, which names the host) announce
 * the keyword?  The keyword follows "NNN-" or "NNN " and ends at a space
 * or the end of the line.
 */
int
smtp_ehlo_keyword(const char *p, size_t len, const char *kw)
{
	size_t	 n = strlen(kw);

	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (len < 4 + n || strncasecmp(p + 4, kw, n) != 0)
		return 0;
	return len == 4 + n || p[4 + n] == ' ';
}
