/*
 * The STARTTLS state machine, all in one place.
 *
 * Client lines are classified exactly as qmail-smtpd's parser does
 * (smtp.c).  Most are passed to the server behind us; each one passed
 * makes the server owe one reply, and a tag per owed reply is queued so
 * that replies can be matched to their commands: the EHLO reply is
 * rewritten (STARTTLS added or removed), the DATA reply tells whether the
 * next client bytes are a message, the swallowed greeting of the server
 * started after the handshake can refuse the session.
 *
 * A few lines we answer ourselves: STARTTLS (220, 454, 501, 503) and,
 * when TLS is required, MAIL/RCPT/DATA before it (530).  Such a reply is
 * only queued once the server owes nothing, so replies stay in order.
 *
 *   COMMAND --DATA--> DATAWAIT --354--> BODY --"\r\n.\r\n"--> COMMAND
 *                              \--else--> COMMAND
 *   BODY --bare LF--> LOOSEBODY --a line of "."--> COMMAND
 *                               \--the reply to the message--> COMMAND
 *   COMMAND --STARTTLS, nothing owed--> TLSWANTED  (the rest of the
 *            client's input, sent before it could have seen a reply, is
 *            thrown away; TLS is set up now, not before it is needed)
 *   TLSWANTED --TLS ready--> STARTTLS  (220 queued; the relay returns
 *            once it is sent)
 *   TLSWANTED --TLS failed--> COMMAND  (454, and STARTTLS no longer
 *            offered)
 *   COMMAND --QUIT--> QUIT        (the server says 221 and exits)
 *   after TLS: swallowed greeting not 2xx --> REFUSED --> END
 */
#include <string.h>

#include "buf.h"
#include "proxy.h"
#include "smtp.h"

enum { CONT_NONE, CONT_FORWARD, CONT_DISCARD };

enum {
	TAG_NONE,		/* a reply nobody asked for */
	TAG_OTHER,
	TAG_EHLO,
	TAG_DATA,
	TAG_MESSAGE,		/* the reply to a message */
	TAG_SWALLOW		/* greeting of the server started after TLS */
};

/* Our own replies; texts as the qmail-tls patch and RFC 3207 have them. */
#define R_READY		"220 ready for tls\r\n"
#define R_NOTLS		"454 TLS not available (#4.7.0)\r\n"
#define R_SYNTAX	"501 Syntax error (no parameters allowed) (#5.5.4)\r\n"
#define R_TLSACTIVE	"503 TLS already active (#5.5.1)\r\n"
#define R_MUSTTLS	"530 Must issue a STARTTLS command first (#5.7.0)\r\n"
#define R_MAX		64	/* room enough for any of them */

/* What becomes of a client command (decide()) */
enum verdict {
	PASS,			/* to the server behind us */
	ANSWER,			/* we reply ourselves, it goes no further */
	START_TLS		/* an accepted STARTTLS */
};

static void
tag_push(struct proxy *p, int tag)
{
	p->tag[(p->taghead + p->ntags) % PROXY_MAXTAGS] = (unsigned char)tag;
	p->ntags++;
}

static int
tag_head(const struct proxy *p)
{
	return p->ntags > 0 ? p->tag[p->taghead] : TAG_NONE;
}

static void
tag_pop(struct proxy *p)
{
	if (p->ntags == 0)
		return;
	p->taghead = (p->taghead + 1) % PROXY_MAXTAGS;
	p->ntags--;
}

/* mode: enum proxy_mode flags, or-ed. */
void
proxy_init(struct proxy *p, int mode)
{
	memset(p, 0, sizeof(*p));
	p->state = PROXY_COMMAND;
	p->tls = (mode & PROXY_TLS) != 0;
	p->offer = (mode & PROXY_OFFER) && !p->tls;
	p->require = (mode & PROXY_REQUIRE) && !p->tls;
	p->transparent = (mode & PROXY_TRANSPARENT) != 0;
	tag_push(p, TAG_OTHER);		/* the greeting */
}

/* After the handshake: a new server, whose greeting the client must not see. */
void
proxy_restart(struct proxy *p)
{
	proxy_init(p, PROXY_TLS);
	p->tag[p->taghead] = TAG_SWALLOW;
}

/* Should the relay read client bytes now? */
int
proxy_reading(const struct proxy *p)
{
	if (p->clienteof)
		return 0;
	switch (p->state) {
	case PROXY_COMMAND:
		return p->ntags < PROXY_MAXTAGS;
	case PROXY_DATAWAIT:
	case PROXY_BODY:
	case PROXY_LOOSEBODY:
	case PROXY_REFUSED:
		return 1;
	default:
		return 0;
	}
}

/*
 * Once the client has closed its side, can what is left of its input
 * never be used?  Half a line is dropped, as qmail-smtpd drops it; whole
 * lines still waiting (for replies to drain, for room) are not, and
 * neither is anything in a message or in transparent mode.
 */
int
proxy_leftover(const struct proxy *p, const struct buf *in)
{
	if (in->len == 0 || p->transparent)
		return 0;
	switch (p->state) {
	case PROXY_COMMAND:
		return memchr(buf_data(in), '\n', in->len) == NULL;
	case PROXY_DATAWAIT:
	case PROXY_BODY:
	case PROXY_LOOSEBODY:
		return 0;
	default:
		return 1;	/* nobody will read more commands */
	}
}

/* The client sends no more: EOF, or it can no longer be written. */
void
proxy_clientgone(struct proxy *p)
{
	p->clienteof = 1;
}

/* The server behind us sends no more. */
void
proxy_childgone(struct proxy *p)
{
	p->childeof = 1;
}

int
proxy_clientended(const struct proxy *p)
{
	return p->clienteof;
}

/* Has a STARTTLS been accepted, waiting for proxy_tlsready()? */
int
proxy_tlswanted(const struct proxy *p)
{
	return p->state == PROXY_TLSWANTED;
}

/*
 * Once every reply is with the client: switch to TLS, end (the session
 * is over, the server is gone and none of its output waits, or a refused
 * TLS-phase server has been reported to a client that is gone), or go
 * on.  unread: server bytes the proxy has not taken yet.
 */
enum proxy_next
proxy_next(const struct proxy *p, size_t unread)
{
	if (p->state == PROXY_STARTTLS)
		return PROXY_NEXT_STARTTLS;
	if (p->state == PROXY_END || (p->childeof && unread == 0))
		return PROXY_NEXT_END;
	if (p->clienteof && p->state == PROXY_REFUSED)
		return PROXY_NEXT_END;
	return PROXY_NEXT_RELAY;
}

/* Should the relay read server bytes now? */
int
proxy_listening(const struct proxy *p)
{
	return p->state != PROXY_TLSWANTED && p->state != PROXY_STARTTLS &&
	    p->state != PROXY_REFUSED && p->state != PROXY_END;
}

static void
line_done(struct proxy *p, struct buf *in)
{
	p->cont = CONT_NONE;
	if (p->verb == SMTP_STARTTLS && p->state == PROXY_TLSWANTED) {
		/* anything after STARTTLS was sent before our 220: injection */
		p->discarded += in->len;
		buf_drop(in, in->len);
	}
}

/*
 * The answer to an accepted STARTTLS, once the relay knows whether TLS
 * could be set up: 220 and the switch, or 454 and the session goes on
 * in plaintext without STARTTLS.  decide() made room for either.
 */
void
proxy_tlsready(struct proxy *p, int ready, struct buf *reply)
{
	if (p->state != PROXY_TLSWANTED)
		return;
	if (ready) {
		buf_puts(reply, R_READY);
		p->state = PROXY_STARTTLS;
	} else {
		buf_puts(reply, R_NOTLS);
		p->offer = 0;
		p->state = PROXY_COMMAND;
	}
}

/*
 * What to do with a client command; for ANSWER, *answer is our reply.
 * An accepted STARTTLS is answered once TLS is set up (proxy_tlsready()).
 */
static enum verdict
decide(struct proxy *p, int verb, int hasarg, int complete,
    const char **answer)
{
	switch (verb) {
	case SMTP_STARTTLS:
		if (p->tls)
			*answer = R_TLSACTIVE;
		else if (hasarg || !complete)
			*answer = R_SYNTAX;
		else if (!p->offer)
			*answer = R_NOTLS;
		else
			return START_TLS;
		return ANSWER;
	case SMTP_MAIL:
	case SMTP_RCPT:
	case SMTP_DATA:
		/* our fault, not the client's: defer, do not bounce */
		if (!p->require)
			return PASS;
		*answer = p->offer ? R_MUSTTLS : R_NOTLS;
		return ANSWER;
	default:
		return PASS;
	}
}

static void
client_body(struct proxy *p, struct buf *in, struct buf *out)
{
	size_t	 n, room;
	int	 end;

	room = buf_room(out);
	n = in->len < room ? in->len : room;
	if (n == 0)
		return;
	n = smtp_body_scan(&p->body, buf_data(in), n, &end);
	if (n == in->len && out->len == 0 && in->size == out->size)
		buf_swap(in, out);	/* all of it is message: no copy */
	else
		buf_move(out, in, n);
	if (end == SMTP_BODY_MORE)
		return;
	if (end == SMTP_BODY_STRAY) {
		/*
		 * A bare LF.  Stock qmail-smtpd answers 451 and exits; behind
		 * fixcrio it reads on to a line of ".".  Which one is behind
		 * us, its reply to the message tells (proxy_child()); until
		 * then the message goes on, and ends at such a line.
		 */
		tag_push(p, TAG_MESSAGE);
		smtp_body_loosen(&p->body);
		p->state = PROXY_LOOSEBODY;
		return;
	}
	if (p->state == PROXY_BODY)
		tag_push(p, TAG_MESSAGE);
	p->state = PROXY_COMMAND;
}

/* After a refused TLS-phase greeting: the next command gets the refusal. */
static void
client_refused(struct proxy *p, struct buf *in, struct buf *reply)
{
	/* a command forwarded already, or the next one, gets it */
	if ((p->ntags == 0 && (in->len == 0 ||
	    memchr(buf_data(in), '\n', in->len) == NULL)) ||
	    buf_room(reply) < strlen(p->refusal))
		return;
	buf_puts(reply, p->refusal);
	buf_drop(in, in->len);
	p->state = PROXY_END;
}

/*
 * Classify the command that starts the input and decide where it goes
 * (p->cont): 0, or -1 to wait (for its end, for replies to drain, for
 * room for our answer).
 */
static int
command_start(struct proxy *p, struct buf *in, int whole, size_t n,
    struct buf *reply)
{
	const char	*answer = NULL;
	enum verdict	 verdict;
	int		 hasarg;

	if (!whole && !buf_full(in))
		return -1;		/* wait for the whole line */
	p->verb = smtp_verb(buf_data(in), whole ? n - 1 : n, whole, &hasarg);
	verdict = decide(p, p->verb, hasarg, whole, &answer);
	if (verdict == PASS) {
		if (p->ntags >= PROXY_MAXTAGS - 1)
			return -1;	/* enough pipelined; let replies drain */
		p->cont = CONT_FORWARD;
		return 0;
	}
	if (p->ntags > 0)
		return -1;		/* keep replies in order */
	if (buf_room(reply) < R_MAX)
		return -1;		/* wait for the client to read */
	if (verdict == START_TLS)
		p->state = PROXY_TLSWANTED;
	else
		buf_puts(reply, answer);
	p->cont = CONT_DISCARD;
	return 0;
}

/* A command passed on whole: the reply it will get, and what it starts. */
static void
command_forwarded(struct proxy *p)
{
	switch (p->verb) {
	case SMTP_EHLO:
		tag_push(p, TAG_EHLO);
		break;
	case SMTP_DATA:
		tag_push(p, TAG_DATA);
		p->state = PROXY_DATAWAIT;
		break;
	case SMTP_QUIT:
		tag_push(p, TAG_OTHER);
		p->state = PROXY_QUIT;
		break;
	default:
		tag_push(p, TAG_OTHER);
	}
}

void
proxy_client(struct proxy *p, struct buf *in, struct buf *out,
    struct buf *reply)
{
	const char	*nl;
	size_t		 n;
	int		 state;

	if (p->transparent) {
		buf_move(out, in, in->len);
		return;
	}
	if (p->state == PROXY_REFUSED) {
		client_refused(p, in, reply);
		return;
	}
	while (in->len > 0) {
		if (p->state == PROXY_BODY || p->state == PROXY_LOOSEBODY) {
			state = p->state;
			client_body(p, in, out);
			if (p->state == state)
				return;		/* all read, or no room */
			continue;
		}
		/* the server is gone: nobody will answer a command */
		if (p->state != PROXY_COMMAND || p->childeof)
			return;
		nl = memchr(buf_data(in), '\n', in->len);
		n = nl != NULL ? (size_t)(nl - buf_data(in)) + 1 : in->len;
		if (p->cont == CONT_NONE &&
		    command_start(p, in, nl != NULL, n, reply) == -1)
			return;
		if (p->cont == CONT_DISCARD)
			buf_drop(in, n);
		else if (buf_room(out) < n)
			return;			/* wait for the server to read */
		else
			buf_move(out, in, n);
		if (nl == NULL)
			continue;		/* rest of an overlong line */
		if (p->cont == CONT_FORWARD)
			command_forwarded(p);
		line_done(p, in);
	}
}

/*
 * One line of a rewritten EHLO reply, with its continuation mark set:
 * "250-" when more lines follow, else as the server wrote it.  A bare
 * "250" that is no longer last gets a '-' inserted, or the client would
 * take it for a whole reply and every later reply would be off by one.
 */
static void
ehlo_line(struct buf *out, const char *s, size_t n, int more)
{
	if (n >= 4 && (s[3] == '-' || s[3] == ' ')) {
		buf_put(out, s, 3);
		buf_put(out, more ? "-" : " ", 1);
		buf_put(out, s + 4, n - 4);
	} else if (more && smtp_reply_code(s, n) != -1) {
		buf_put(out, s, 3);
		buf_put(out, "-", 1);
		buf_put(out, s + 3, n - 3);
	} else
		buf_put(out, s, n);
}

static int
ehlo_drop(const char *s, size_t n, int first)
{
	return !first && smtp_ehlo_keyword(s, n, "STARTTLS");
}

/*
 * The complete EHLO reply in p->ehlo, rewritten into out: the server's own
 * STARTTLS keyword (if any) removed, ours added after the first line when
 * we offer TLS.  A reply other than 2xx passes unchanged.
 */
static void
ehlo_rewrite(struct proxy *p, struct buf *out)
{
	const char	*line, *end = p->ehlo + p->ehlolen, *nl;
	size_t		 n, kept = 0, i = 0;
	int		 code;

	code = smtp_reply_code(p->ehlo, p->ehlolen);
	if (code < 200 || code > 299) {
		buf_put(out, p->ehlo, p->ehlolen);
		return;
	}
	for (line = p->ehlo; line < end; line += n) {
		nl = memchr(line, '\n', end - line);
		n = nl != NULL ? (size_t)(nl - line) + 1 : (size_t)(end - line);
		if (!ehlo_drop(line, n, line == p->ehlo))
			kept++;
	}
	if (p->offer)
		kept++;
	for (line = p->ehlo; line < end; line += n) {
		nl = memchr(line, '\n', end - line);
		n = nl != NULL ? (size_t)(nl - line) + 1 : (size_t)(end - line);
		if (ehlo_drop(line, n, line == p->ehlo))
			continue;
		ehlo_line(out, line, n, ++i < kept);
		if (line == p->ehlo && p->offer)
			ehlo_line(out, "250-STARTTLS\r\n", 14, ++i < kept);
	}
}

/* One reply line (or a piece of an overlong one) from the server. */
static int
child_line(struct proxy *p, const char *data, size_t n, int complete,
    struct buf *out)
{
	size_t	 len;

	switch (p->reply_tag) {
	case TAG_SWALLOW:
		if (complete && p->reply_lastline &&
		    (p->reply_code < 200 || p->reply_code > 299)) {
			len = n < sizeof(p->refusal) - 3 ? n : sizeof(p->refusal) - 3;
			while (len > 0 && (data[len - 1] == '\n' ||
			    data[len - 1] == '\r'))
				len--;
			memcpy(p->refusal, data, len);
			memcpy(p->refusal + len, "\r\n", 3);
			p->state = PROXY_REFUSED;
		}
		return 1;
	case TAG_EHLO:
		if (p->transparent || p->ehlopass)
			break;
		if (p->ehlolen + n > sizeof(p->ehlo)) {
			/* absurdly long: give up rewriting it */
			if (buf_put(out, p->ehlo, p->ehlolen) == -1)
				return 0;
			p->ehlolen = 0;
			p->ehlopass = 1;
			break;
		}
		/* room for the reply, our line, and a '-' per line at worst */
		if (complete && p->reply_lastline &&
		    buf_room(out) < 2 * (p->ehlolen + n) + 16)
			return 0;
		memcpy(p->ehlo + p->ehlolen, data, n);
		p->ehlolen += n;
		if (complete && p->reply_lastline) {
			ehlo_rewrite(p, out);
			p->ehlolen = 0;
		}
		return 1;
	}
	return buf_put(out, data, n) == 0;
}

void
proxy_child(struct proxy *p, struct buf *in, struct buf *out)
{
	const char	*data, *nl;
	size_t		 n;
	int		 complete;

	while (in->len > 0 && proxy_listening(p)) {
		data = buf_data(in);
		nl = memchr(data, '\n', in->len);
		n = nl != NULL ? (size_t)(nl - data) + 1 : in->len;
		complete = nl != NULL || p->childeof;
		if (!complete && !buf_full(in))
			return;			/* wait for the whole line */
		if (!p->reply_midline) {
			p->reply_tag = p->transparent ? TAG_NONE : tag_head(p);
			p->reply_lastline = smtp_reply_last(data, n);
			p->reply_code = smtp_reply_code(data, n);
		}
		if (!child_line(p, data, n, complete, out))
			return;			/* wait for the client to read */
		buf_drop(in, n);
		p->reply_midline = !complete;
		if (!complete || !p->reply_lastline)
			continue;
		/* a whole reply: it answers the oldest command */
		if (p->reply_tag == TAG_NONE)
			continue;
		tag_pop(p);
		/* the server has answered the message: it is over for it */
		if (p->reply_tag == TAG_MESSAGE && p->state == PROXY_LOOSEBODY)
			p->state = PROXY_COMMAND;
		if (p->reply_tag == TAG_DATA && p->state == PROXY_DATAWAIT) {
			if (p->reply_code == 354) {
				smtp_body_init(&p->body);
				p->state = PROXY_BODY;
			} else
				p->state = PROXY_COMMAND;
		}
		p->ehlopass = 0;
	}
}
