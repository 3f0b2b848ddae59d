/*
 * Unit tests for lib/: the SMTP line rules (smtp.c), the fixed buffers
 * (buf.c), the control-file readers (control.c) and the STARTTLS state
 * machine (proxy.c), the last driven directly through struct buf buffers.
 *
 * Output: one TAP line per test on stdout, "ok N - name" or
 * "not ok N - name: detail"; exit 0 when all passed, 1 otherwise.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "child.h"
#include "control.h"
#include "conn.h"
#include "io.h"
#include "proxy.h"
#include "sandbox.h"
#include "smtp.h"
#include "text.h"
#include "blast.h"
#include "ipme.h"
#include "route.h"
#include "smtpc.h"

/* ------------------------------------------------------------------ */
/* the harness                                                         */

static int	ntests, nfailed;
static char	why[2048];		/* first failure of the current test */

#define FAIL(...) do {							\
	if (why[0] == '\0')						\
		snprintf(why, sizeof(why), __VA_ARGS__);		\
} while (0)

/* A failed check ends the test. */
#define CHECK(c) do {							\
	if (!(c)) {							\
		FAIL("line %d: %s", __LINE__, #c);			\
		return;							\
	}								\
} while (0)

#define CHECK_INT(a, b) do {						\
	long chk_got_ = (long)(a), chk_want_ = (long)(b);		\
	if (chk_got_ != chk_want_) {					\
		FAIL("line %d: %s is %ld, expected %ld", __LINE__, #a,	\
		    chk_got_, chk_want_);				\
		return;							\
	}								\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *chk_got_ = (a), *chk_want_ = (b);			\
	if (strcmp(chk_got_, chk_want_) != 0) {				\
		FAIL("line %d: %s is \"%s\", expected \"%s\"", __LINE__,	\
		    #a, esc(chk_got_, strlen(chk_got_)),		\
		    esc(chk_want_, strlen(chk_want_)));			\
		return;							\
	}								\
} while (0)

/* Printable, one-line rendering of bytes for test names and details. */
static const char *
esc(const char *s, size_t n)
{
	static char	 bufs[4][320];
	static int	 k;
	char		*o = bufs[k++ % 4];
	size_t		 i, j = 0;
	unsigned char	 c;

	for (i = 0; i < n && j < sizeof(bufs[0]) - 8; i++) {
		c = (unsigned char)s[i];
		if (c == '\r') {
			o[j++] = '\\';
			o[j++] = 'r';
		} else if (c == '\n') {
			o[j++] = '\\';
			o[j++] = 'n';
		} else if (c == '\\' || c == '"') {
			o[j++] = '\\';
			o[j++] = (char)c;
		} else if (c < 32 || c > 126)
			j += (size_t)snprintf(o + j, 5, "\\x%02x", c);
		else
			o[j++] = (char)c;
	}
	if (i < n) {
		memcpy(o + j, "...", 3);
		j += 3;
	}
	o[j] = '\0';
	return o;
}

static void
run(const char *name, void (*fn)(void))
{
	why[0] = '\0';
	fn();
	ntests++;
	if (why[0] == '\0')
		printf("ok %d - %s\n", ntests, name);
	else {
		nfailed++;
		printf("not ok %d - %s: %s\n", ntests, name, why);
	}
	fflush(stdout);
}

/* Does b hold exactly s/n?  Reports the difference if not. */
static int
buf_is(const struct buf *b, const char *s, size_t n, const char *what,
    int line)
{
	if (b->len == n && memcmp(buf_data(b), s, n) == 0)
		return 1;
	FAIL("line %d: %s holds \"%s\" (%zu bytes), expected \"%s\" "
	    "(%zu bytes)", line, what, esc(buf_data(b), b->len), b->len,
	    esc(s, n), n);
	return 0;
}

/* b must hold exactly the literal s; then it is emptied. */
#define EXPECT(b, s) do {						\
	if (!buf_is(&(b), (s), sizeof(s) - 1, #b, __LINE__))		\
		return;							\
	buf_drop(&(b), (b).len);					\
} while (0)

#define EXPECT_EMPTY(b) do {						\
	if (!buf_is(&(b), "", 0, #b, __LINE__))				\
		return;							\
} while (0)

/* ------------------------------------------------------------------ */
/* smtp_verb                                                           */

struct vcase {
	const char	*line;
	size_t		 len;
	int		 complete;
	int		 verb;
	int		 hasarg;
};

#define L(s)	(s), sizeof(s) - 1

static const struct vcase vcases[] = {
	{ L("STARTTLS"), 1, SMTP_STARTTLS, 0 },
	{ L("STARTTLS\r"), 1, SMTP_STARTTLS, 0 },
	{ L("starttls"), 1, SMTP_STARTTLS, 0 },
	{ L("starttls\r"), 1, SMTP_STARTTLS, 0 },
	{ L("StartTLS"), 1, SMTP_STARTTLS, 0 },
	{ L("StartTLS\r"), 1, SMTP_STARTTLS, 0 },
	{ L("STARTTLS "), 1, SMTP_STARTTLS, 0 },
	{ L("STARTTLS   \r"), 1, SMTP_STARTTLS, 0 },
	{ L("STARTTLS x"), 1, SMTP_STARTTLS, 1 },
	{ L("STARTTLS x\r"), 1, SMTP_STARTTLS, 1 },
	{ L("STARTTLS\r\r"), 1, SMTP_OTHER, 0 },
	{ L("STARTTLS\0junk"), 1, SMTP_STARTTLS, 0 },
	{ L("STARTTLS  \0junk"), 1, SMTP_STARTTLS, 0 },
	{ L("STAR\0TTLS"), 1, SMTP_OTHER, 0 },
	{ L("STARTTLSX"), 1, SMTP_OTHER, 0 },
	{ L("STARTTLS\tx"), 1, SMTP_OTHER, 0 },
	{ L("MAIL FROM:<a>"), 1, SMTP_MAIL, 1 },
	{ L("RCPT TO:<b>\r"), 1, SMTP_RCPT, 1 },
	{ L("DATA"), 1, SMTP_DATA, 0 },
	{ L("DATA\r"), 1, SMTP_DATA, 0 },
	{ L("data x"), 1, SMTP_DATA, 1 },
	{ L("QUIT"), 1, SMTP_QUIT, 0 },
	{ L("EHLO x"), 1, SMTP_EHLO, 1 },
	{ L("HELO x"), 1, SMTP_HELO, 1 },
	{ L(""), 1, SMTP_OTHER, 0 },
	{ L("\r"), 1, SMTP_OTHER, 0 },
	{ L("  STARTTLS"), 1, SMTP_OTHER, 1 },	/* verb "", arg "STARTTLS" */
	{ L("NOOP"), 1, SMTP_OTHER, 0 },
};

static const struct vcase *vcur;

static const char *
verbname(int v)
{
	switch (v) {
	case SMTP_OTHER:	return "other";
	case SMTP_HELO:		return "HELO";
	case SMTP_EHLO:		return "EHLO";
	case SMTP_MAIL:		return "MAIL";
	case SMTP_RCPT:		return "RCPT";
	case SMTP_DATA:		return "DATA";
	case SMTP_QUIT:		return "QUIT";
	case SMTP_STARTTLS:	return "STARTTLS";
	}
	return "?";
}

static void
t_verb_case(void)
{
	int	 v, hasarg = -1;

	v = smtp_verb(vcur->line, vcur->len, vcur->complete, &hasarg);
	if (v != vcur->verb)
		FAIL("verb %s, expected %s", verbname(v), verbname(vcur->verb));
	else if (hasarg != vcur->hasarg)
		FAIL("hasarg %d, expected %d", hasarg, vcur->hasarg);
}

static void
t_verb_long_other(void)
{
	static char	 line[70000];
	int		 hasarg = -1;

	memset(line, 'A', sizeof(line));
	CHECK_INT(smtp_verb(line, sizeof(line), 0, &hasarg), SMTP_OTHER);
	CHECK_INT(hasarg, 1);
}

static void
t_verb_long_starttls_spaces(void)
{
	static char	 line[70000];
	int		 hasarg = -1;

	memset(line, ' ', sizeof(line));
	memcpy(line, "STARTTLS", 8);
	CHECK_INT(smtp_verb(line, sizeof(line), 0, &hasarg), SMTP_STARTTLS);
	CHECK_INT(hasarg, 1);
}

static void
t_verb_long_data_arg(void)
{
	static char	 line[70000];
	int		 hasarg = -1;

	memset(line, 'x', sizeof(line));
	memcpy(line, "DATA ", 5);
	CHECK_INT(smtp_verb(line, sizeof(line), 0, &hasarg), SMTP_DATA);
	CHECK_INT(hasarg, 1);
}

/* an incomplete prefix keeps its '\r': it is not the end of the line */
static void
t_verb_incomplete_cr(void)
{
	int	 hasarg = -1;

	CHECK_INT(smtp_verb("STARTTLS\r", 9, 0, &hasarg), SMTP_OTHER);
	CHECK_INT(hasarg, 1);
}

static void
t_verbname(void)
{
	CHECK_STR(smtp_verbname(SMTP_STARTTLS), "starttls");
	CHECK_STR(smtp_verbname(SMTP_DATA), "data");
	CHECK_STR(smtp_verbname(SMTP_OTHER), "other");
}

/* ------------------------------------------------------------------ */
/* smtp_body_scan                                                      */

struct bcase {
	const char	*name;
	const char	*s;
	size_t		 len;
	size_t		 want;
	int		 end;
};

static const struct bcase bcases[] = {
	{ "empty message ends at .CRLF", L(".\r\n"), 3, SMTP_BODY_END },
	{ "ends at CRLF.CRLF, later bytes not consumed",
	    L("hi\r\n.\r\nQUIT\r\n"), 7, SMTP_BODY_END },
	{ "dot-stuffed line does not end", L("..\r\n"), 4, SMTP_BODY_MORE },
	{ "dot-stuffed line then end", L("..\r\nx\r\n.\r\n"), 10,
	    SMTP_BODY_END },
	{ "dot then text does not end", L("a\r\n.x\r\n.\r\nRSET\r\n"), 10,
	    SMTP_BODY_END },
	{ "bare LF mid-line is stray", L("ab\ncd\r\n"), 3, SMTP_BODY_STRAY },
	{ "bare LF at start is stray", L("\nx"), 1, SMTP_BODY_STRAY },
	{ "dot then bare LF is stray", L(".\n.\r\n"), 2, SMTP_BODY_STRAY },
	{ "bare LF after lines is stray", L("a\r\nb\r\nhello\nworld\r\n"),
	    12, SMTP_BODY_STRAY },
	{ "CRLF inside lines is fine", L("a\r\nb\r\nSTARTTLS\r\n"), 16,
	    SMTP_BODY_MORE },
	{ "lone CR inside a line is fine", L("a\rb\r\n"), 5, SMTP_BODY_MORE },
	{ "dot CR then x does not end", L(".\rx\r\n"), 5, SMTP_BODY_MORE },
	{ "dot CR x then end", L(".\rx\r\n.\r\n"), 8, SMTP_BODY_END },
	{ "CR CR LF dot CR LF ends", L("\r\r\n.\r\n"), 6, SMTP_BODY_END },
	{ "dot CR CR LF does not end", L("x\r\n.\r\r\n.\r\n"), 10,
	    SMTP_BODY_END },
	{ "no end in plain text", L("hello world"), 11, SMTP_BODY_MORE },
};

static const struct bcase *bcur;

static void
t_body_case(void)
{
	struct smtp_body	 b;
	size_t			 r;
	int			 end = -1;

	smtp_body_init(&b);
	r = smtp_body_scan(&b, bcur->s, bcur->len, &end);
	CHECK_INT(r, bcur->want);
	CHECK_INT(end, bcur->end);
}

static void
t_body_case_bytewise(void)
{
	struct smtp_body	 b;
	size_t			 i, r, total = 0;
	int			 end = SMTP_BODY_MORE;

	smtp_body_init(&b);
	for (i = 0; i < bcur->len && end == SMTP_BODY_MORE; i++) {
		r = smtp_body_scan(&b, bcur->s + i, 1, &end);
		CHECK_INT(r, 1);
		total += r;
	}
	CHECK_INT(total, bcur->want);
	CHECK_INT(end, bcur->end);
}

/* the state after an end is "just after CRLF" again: a second message */
static void
t_body_end_resets(void)
{
	struct smtp_body	 b;
	int			 end = -1;

	smtp_body_init(&b);
	CHECK_INT(smtp_body_scan(&b, L("x\r\n.\r\n"), &end), 6);
	CHECK_INT(end, SMTP_BODY_END);
	CHECK_INT(smtp_body_scan(&b, L(".\r\n"), &end), 3);
	CHECK_INT(end, SMTP_BODY_END);
}

/* two calls, the end sequence split between them */
static void
t_body_split(void)
{
	struct smtp_body	 b;
	int			 end = -1;

	smtp_body_init(&b);
	CHECK_INT(smtp_body_scan(&b, L("hi\r\n."), &end), 5);
	CHECK_INT(end, SMTP_BODY_MORE);
	CHECK_INT(smtp_body_scan(&b, L("\r"), &end), 1);
	CHECK_INT(end, SMTP_BODY_MORE);
	CHECK_INT(smtp_body_scan(&b, L("\nQUIT\r\n"), &end), 1);
	CHECK_INT(end, SMTP_BODY_END);
}

/* ------------------------------------------------------------------ */
/* reply lines                                                         */

static void
t_reply_continued(void)
{
	CHECK_INT(smtp_reply_code(L("250-PIPELINING\r\n")), 250);
	CHECK_INT(smtp_reply_last(L("250-PIPELINING\r\n")), 0);
}

static void
t_reply_last(void)
{
	CHECK_INT(smtp_reply_code(L("250 8BITMIME\r\n")), 250);
	CHECK_INT(smtp_reply_last(L("250 8BITMIME\r\n")), 1);
}

static void
t_reply_bare_code(void)
{
	CHECK_INT(smtp_reply_code(L("250\r\n")), 250);
	CHECK_INT(smtp_reply_last(L("250\r\n")), 1);
}

static void
t_reply_short(void)
{
	CHECK_INT(smtp_reply_code(L("25")), -1);
	CHECK_INT(smtp_reply_code(L("2x0 no\r\n")), -1);
	CHECK_INT(smtp_reply_code(L("ok\r\n")), -1);
	CHECK_INT(smtp_reply_code(L("421 bye\r\n")), 421);
}

static void
t_kw_continued(void)
{
	CHECK_INT(smtp_ehlo_keyword(L("250-STARTTLS\r\n"), "STARTTLS"), 1);
}

static void
t_kw_last_lower(void)
{
	CHECK_INT(smtp_ehlo_keyword(L("250 starttls\r\n"), "STARTTLS"), 1);
}

static void
t_kw_longer(void)
{
	CHECK_INT(smtp_ehlo_keyword(L("250-STARTTLSX\r\n"), "STARTTLS"), 0);
}

static void
t_kw_param(void)
{
	CHECK_INT(smtp_ehlo_keyword(L("250-STARTTLS foo\r\n"), "STARTTLS"), 1);
}

static void
t_kw_other(void)
{
	CHECK_INT(smtp_ehlo_keyword(L("250-PIPELINING\r\n"), "STARTTLS"), 0);
	CHECK_INT(smtp_ehlo_keyword(L("250-X STARTTLS\r\n"), "STARTTLS"), 0);
	CHECK_INT(smtp_ehlo_keyword(L("250-STARTTL\r\n"), "STARTTLS"), 0);
}

/* ------------------------------------------------------------------ */
/* buf                                                                 */

static void
t_buf_put(void)
{
	char		 m[8];
	struct buf	 b;

	buf_init(&b, m, sizeof(m));
	CHECK_INT(b.len, 0);
	CHECK_INT(buf_room(&b), 8);
	CHECK_INT(buf_put(&b, "abc", 3), 0);
	CHECK_INT(buf_puts(&b, "de"), 0);
	if (!buf_is(&b, "abcde", 5, "b", __LINE__))
		return;
	CHECK_INT(buf_room(&b), 3);
	CHECK_INT(buf_full(&b), 0);
	CHECK_INT(buf_put(&b, "fgh", 3), 0);
	CHECK_INT(buf_full(&b), 1);
	CHECK_INT(buf_room(&b), 0);
}

static void
t_buf_drop(void)
{
	char		 m[8];
	struct buf	 b;

	buf_init(&b, m, sizeof(m));
	CHECK_INT(buf_put(&b, "abcdef", 6), 0);
	buf_drop(&b, 2);
	if (!buf_is(&b, "cdef", 4, "b", __LINE__))
		return;
	buf_drop(&b, 0);
	if (!buf_is(&b, "cdef", 4, "b", __LINE__))
		return;
	buf_drop(&b, 100);
	CHECK_INT(b.len, 0);
	CHECK_INT(b.off, 0);
	CHECK_INT(buf_room(&b), 8);
}

/* room counts the space freed at the front: held bytes slide down */
static void
t_buf_room_slides(void)
{
	char		 m[8];
	struct buf	 b;

	buf_init(&b, m, sizeof(m));
	CHECK_INT(buf_put(&b, "abcdef", 6), 0);
	buf_drop(&b, 4);
	CHECK_INT(buf_room(&b), 6);
	CHECK_INT(b.off, 0);
	CHECK(buf_tail(&b) == m + 2);
	memcpy(buf_tail(&b), "XYZ", 3);
	buf_added(&b, 3);
	if (!buf_is(&b, "efXYZ", 5, "b", __LINE__))
		return;
}

/* put slides the held bytes when the tail is short but the total fits */
static void
t_buf_put_slides(void)
{
	char		 m[8];
	struct buf	 b;

	buf_init(&b, m, sizeof(m));
	CHECK_INT(buf_put(&b, "abcdef", 6), 0);
	buf_drop(&b, 4);
	CHECK_INT(buf_put(&b, "ghijkl", 6), 0);
	if (!buf_is(&b, "efghijkl", 8, "b", __LINE__))
		return;
	CHECK_INT(buf_full(&b), 1);
}

static void
t_buf_put_all_or_nothing(void)
{
	char		 m[8];
	struct buf	 b;

	buf_init(&b, m, sizeof(m));
	CHECK_INT(buf_put(&b, "abcde", 5), 0);
	CHECK_INT(buf_put(&b, "1234", 4), -1);
	if (!buf_is(&b, "abcde", 5, "b", __LINE__))
		return;
	CHECK_INT(buf_puts(&b, "123456789"), -1);
	if (!buf_is(&b, "abcde", 5, "b", __LINE__))
		return;
	CHECK_INT(buf_put(&b, "123", 3), 0);
	CHECK_INT(buf_put(&b, "x", 1), -1);
	if (!buf_is(&b, "abcde123", 8, "b", __LINE__))
		return;
	CHECK_INT(buf_put(&b, "", 0), 0);
}

static void
t_buf_move_dst_room(void)
{
	char		 sm[16], dm[4];
	struct buf	 src, dst;

	buf_init(&src, sm, sizeof(sm));
	buf_init(&dst, dm, sizeof(dm));
	CHECK_INT(buf_put(&dst, "x", 1), 0);
	CHECK_INT(buf_put(&src, "abcdef", 6), 0);
	CHECK_INT(buf_move(&dst, &src, 6), 3);
	if (!buf_is(&dst, "xabc", 4, "dst", __LINE__) ||
	    !buf_is(&src, "def", 3, "src", __LINE__))
		return;
	CHECK_INT(buf_move(&dst, &src, 6), 0);
	if (!buf_is(&src, "def", 3, "src", __LINE__))
		return;
	buf_drop(&dst, 2);
	CHECK_INT(buf_move(&dst, &src, 100), 2);
	if (!buf_is(&dst, "bcde", 4, "dst", __LINE__) ||
	    !buf_is(&src, "f", 1, "src", __LINE__))
		return;
}

static void
t_buf_move_src_len(void)
{
	char		 sm[16], dm[16];
	struct buf	 src, dst;

	buf_init(&src, sm, sizeof(sm));
	buf_init(&dst, dm, sizeof(dm));
	CHECK_INT(buf_put(&src, "abcdef", 6), 0);
	CHECK_INT(buf_move(&dst, &src, 2), 2);
	if (!buf_is(&dst, "ab", 2, "dst", __LINE__) ||
	    !buf_is(&src, "cdef", 4, "src", __LINE__))
		return;
	CHECK_INT(buf_move(&dst, &src, 100), 4);
	if (!buf_is(&dst, "abcdef", 6, "dst", __LINE__))
		return;
	CHECK_INT(src.len, 0);
	CHECK_INT(buf_move(&dst, &src, 100), 0);
	CHECK_INT(dst.len, 6);
}

/* ------------------------------------------------------------------ */
/* control files                                                       */

static char	tmpdir[64];

static int
tmp_make(void)
{
	strcpy(tmpdir, "/tmp/starttls-unit.XXXXXX");
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static void
tmp_remove(void)
{
	char		 path[512];
	DIR		*d;
	struct dirent	*e;

	if (tmpdir[0] == '\0')
		return;
	if ((d = opendir(tmpdir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", tmpdir,
			    e->d_name);
			if (unlink(path) == -1)
				rmdir(path);	/* the test's directory */
		}
		closedir(d);
	}
	rmdir(tmpdir);
	tmpdir[0] = '\0';
}

static int
tmp_write(const char *name, const char *s, size_t n)
{
	char	 path[512];
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1)
		return -1;
	if (write(fd, s, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

#define WRITE(name, s)	CHECK(tmp_write(name, L(s)) == 0)

static void
t_readline_first(void)
{
	char	 out[128];

	WRITE("me", "mail.example.com \t\r\nsecond line\n");
	memset(out, 'Z', sizeof(out));
	CHECK_INT(control_readline(tmpdir, "me", out, sizeof(out)), 1);
	CHECK_STR(out, "mail.example.com");
}

static void
t_readline_nonewline(void)
{
	char	 out[128];

	WRITE("me2", "host.example.org");
	CHECK_INT(control_readline(tmpdir, "me2", out, sizeof(out)), 1);
	CHECK_STR(out, "host.example.org");
}

static void
t_readline_empty(void)
{
	char	 out[128] = "junk";

	WRITE("empty", "");
	CHECK_INT(control_readline(tmpdir, "empty", out, sizeof(out)), 1);
	CHECK_STR(out, "");
}

static void
t_readline_missing(void)
{
	char	 out[128];

	CHECK_INT(control_readline(tmpdir, "nosuchfile", out, sizeof(out)),
	    0);
}

static void
t_readline_toolong(void)
{
	char	 out[8];

	WRITE("long", "0123456789\n");
	CHECK_INT(control_readline(tmpdir, "long", out, sizeof(out)), -1);
}

/* a read error (here: the name is a directory) is not "missing" */
static void
t_readline_error(void)
{
	char	 out[128], path[512];

	snprintf(path, sizeof(path), "%s/adir", tmpdir);
	CHECK(mkdir(path, 0755) == 0);
	CHECK_INT(control_readline(tmpdir, "adir", out, sizeof(out)), -1);
}

static void
t_readint_good(void)
{
	long	 v = -5;

	WRITE("timeoutsmtpd", "1200 \n");
	CHECK_INT(control_readint(tmpdir, "timeoutsmtpd", &v), 1);
	CHECK_INT(v, 1200);
}

static void
t_readint_bad(void)
{
	long	 v = 77;

	WRITE("bad1", "12x\n");
	CHECK_INT(control_readint(tmpdir, "bad1", &v), -1);
	WRITE("bad2", "\n");
	CHECK_INT(control_readint(tmpdir, "bad2", &v), -1);
	WRITE("bad3", "-5\n");
	CHECK_INT(control_readint(tmpdir, "bad3", &v), -1);
	WRITE("bad4", "99999999999999999999999\n");
	CHECK_INT(control_readint(tmpdir, "bad4", &v), -1);
	CHECK_INT(v, 77);
}

static void
t_readint_missing(void)
{
	long	 v = 77;

	CHECK_INT(control_readint(tmpdir, "nosuchint", &v), 0);
	CHECK_INT(v, 77);
}

static const char tlsclients[] =
    "# relaying clients\n"
    "\n"
    "  Alice@Example.COM \t\r\n"
    "   \n"
    "#carol@example.com\n"
    "bob@example.com";

static void
t_hasline_match(void)
{
	CHECK(tmp_write("tlsclients", L(tlsclients)) == 0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "alice@example.com"),
	    1);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "ALICE@EXAMPLE.COM"),
	    1);
	/* last line, no newline */
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "bob@example.com"), 1);
}

static void
t_hasline_nomatch(void)
{
	CHECK(tmp_write("tlsclients", L(tlsclients)) == 0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "bob@example.co"), 0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "ob@example.com"), 0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "dave@example.com"),
	    0);
}

static void
t_hasline_comments(void)
{
	CHECK(tmp_write("tlsclients", L(tlsclients)) == 0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "carol@example.com"),
	    0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "#carol@example.com"),
	    0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "# relaying clients"),
	    0);
}

static void
t_hasline_empty(void)
{
	CHECK(tmp_write("tlsclients", L(tlsclients)) == 0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", ""), 0);
}

static void
t_hasline_missing(void)
{
	CHECK_INT(control_hasline(tmpdir, "nosuchlist", "alice@example.com"),
	    0);
}

/* ------------------------------------------------------------------ */
/* the relay's sandbox                                                 */

/* Run fn in a child that first narrows itself; its wait status. */
static pid_t	 sb_child = -1;		/* a child the narrowed one may signal */

static int
sandboxed(void (*fn)(void))
{
	pid_t	 pid;
	int	 status;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if (sandbox_relay(&sb_child, 1) == -1)
			_exit(99);
		fn();
		_exit(0);
	}
	while (waitpid(pid, &status, 0) == -1)
		;
	return status;
}

static void
try_open(void)
{
	(void)open("/etc/hostname", O_RDONLY);	/* forbidden */
	_exit(1);				/* never reached */
}

static void
try_relay(void)
{
	char		*p;
	int		 fd[2] = { -1, -1 };

	struct tm	 tm;
	time_t		 now = time(NULL);

	/* what the relay does: allocate, write, poll, close, exit */
	if ((p = malloc(1 << 20)) == NULL)
		_exit(2);
	/* libcrypto checking a certificate's dates */
	if (gmtime_r(&now, &tm) == NULL || localtime_r(&now, &tm) == NULL)
		_exit(4);
	p[0] = 'x';
	if (write(STDOUT_FILENO, "", 0) == -1)
		_exit(3);
	(void)poll(NULL, 0, 1);
	free(p);
	(void)close(fd[0]);
	_exit(0);
}

static void
try_kill_child(void)
{
	if (kill(sb_child, SIGTERM) == -1)
		_exit(5);
	_exit(0);
}

static pid_t	 sb_other = -1;		/* a process it may not signal */

static void
try_kill_other(void)
{
	(void)kill(sb_other, 0);	/* not one of its children */
	_exit(1);
}

/* A child to be signalled: sleeps until then, reaped by the caller. */
static pid_t
sleeper(void)
{
	pid_t	 pid;

	if ((pid = fork()) == 0) {
		sleep(30);
		_exit(0);
	}
	return pid;
}

static void
t_sandbox_kill_children_only(void)
{
	int	 st, cst;

	if (strcmp(sandbox_kind(), "none") == 0)
		return;
	sb_child = sleeper();
	CHECK(sb_child > 0);
	st = sandboxed(try_kill_child);
	while (waitpid(sb_child, &cst, 0) == -1)
		;
	sb_child = -1;
	CHECK(WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), 0);
	CHECK(WIFSIGNALED(cst));
	CHECK_INT(WTERMSIG(cst), SIGTERM);
	sb_other = getpid();		/* its parent: taken before the filter */
	st = sandboxed(try_kill_other);
	CHECK(WIFSIGNALED(st));
	CHECK_INT(WTERMSIG(st), SIGSYS);
}

/*
 * A child that ignores the end of its input is ended with SIGTERM by
 * child_end(), from inside the filter, through its pidfd: kill() is not
 * allowed for any pid here.
 */
static void
t_sandbox_ends_child_by_pidfd(void)
{
	char		*argv[] = { "sh", "-c", "exec sleep 30", NULL };
	char		*vars[] = { "PATH=/usr/bin:/bin", NULL };
	struct child	 c;
	struct env	 e;
	pid_t		 pid, none = -1;
	int		 st;

	if (strcmp(sandbox_kind(), "none") == 0)
		return;
	if ((pid = fork()) == 0) {
		if (env_init(&e, vars) == -1 || child_start(&c, argv, &e) == -1)
			_exit(2);
		if (c.pidfd == -1)
			_exit(0);	/* no pidfds here: kill() it is */
		if (sandbox_relay(&none, 1) == -1)
			_exit(3);
		_exit(child_end(&c, 200) == 111 ? 0 : 4);
	}
	CHECK(pid > 0);
	while (waitpid(pid, &st, 0) == -1)
		;
	CHECK(WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), 0);
}

static void
t_sandbox_refuses_open(void)
{
	int	 st;

	if (strcmp(sandbox_kind(), "none") == 0)
		return;		/* built with SECCOMP=0: nothing to test */
	st = sandboxed(try_open);
	CHECK(WIFSIGNALED(st));
	CHECK_INT(WTERMSIG(st), SIGSYS);
}

static void
t_sandbox_allows_relaying(void)
{
	int	 st;

	st = sandboxed(try_relay);
	CHECK(WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), 0);
}

/* ------------------------------------------------------------------ */
/* the standby: the TLS phase's server, forked before the sandbox      */

/* All the child wrote to its stdout, up to n - 1 bytes. */
static size_t
child_output(struct child *c, char *out, size_t n)
{
	size_t	 len = 0;
	ssize_t	 r;

	while (len + 1 < n &&
	    (r = io_read(c->out, out + len, n - 1 - len,
	    io_now() + 10000)) > 0)
		len += r;
	out[len] = '\0';
	return len;
}

static const char *const tlsnames[] = { "SSL_*", "RELAYCLIENT", NULL };
static char	*basevars[] = { "PATH=/usr/bin:/bin", "BASE=kept", NULL };

/* A standby for argv, forked with basevars, and an empty set to add. */
static int
standby_setup(struct child *c, char **argv, struct env *add)
{
	struct env	 base;
	int		 r;

	if (env_init(&base, basevars) == -1)
		return -1;
	r = child_standby(c, argv, &base, tlsnames);
	env_free(&base);		/* the standby has its own copy */
	if (r == -1)
		return -1;
	return env_init(add, (char *[]){ NULL });
}

static void
t_standby_launch(void)
{
	char		*argv[] = { "sh", "-c",
			    "echo \"$BASE $SSL_PROTOCOL ${RELAYCLIENT-unset}\"; "
			    "cat", NULL };
	struct child	 c;
	struct env	 add;
	char		 out[256];

	CHECK_INT(standby_setup(&c, argv, &add), 0);
	CHECK_INT(env_set(&add, "SSL_PROTOCOL", "TLSv1.3"), 0);
	CHECK_INT(env_set(&add, "RELAYCLIENT", ""), 0);
	CHECK_INT(child_launch(&c, &add), 0);
	env_free(&add);
	CHECK_INT(conn_fdwriteall(c.in, "piped\n", 6, io_now() + 10000), 0);
	child_closein(&c);
	child_output(&c, out, sizeof(out));
	CHECK_STR(out, "kept TLSv1.3 \npiped\n");
	CHECK_INT(child_end(&c, 2000), 0);
}

static void
t_standby_nothing_added(void)
{
	char		*argv[] = { "sh", "-c",
			    "echo \"$BASE ${SSL_PROTOCOL-none}\"", NULL };
	struct child	 c;
	struct env	 add;
	char		 out[256];

	CHECK_INT(standby_setup(&c, argv, &add), 0);
	CHECK_INT(child_launch(&c, &add), 0);
	env_free(&add);
	child_output(&c, out, sizeof(out));
	CHECK_STR(out, "kept none\n");
	CHECK_INT(child_end(&c, 2000), 0);
}

/* A name not on the list (what a compromised relay might try) is refused. */
static void
t_standby_refuses_other_names(void)
{
	static const char	*bad[] = { "LD_PRELOAD", "PATH", "SSL", "BASE" };
	char			*argv[] = { "sh", "-c", "echo ran", NULL };
	struct child		 c;
	struct env		 add;
	char			 out[64];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(standby_setup(&c, argv, &add), 0);
		CHECK_INT(env_set(&add, "SSL_CIPHER", "x"), 0);
		CHECK_INT(env_set(&add, bad[i], "/tmp/x"), 0);
		CHECK_INT(child_launch(&c, &add), -1);
		CHECK_INT(errno, EPERM);
		env_free(&add);
		child_output(&c, out, sizeof(out));
		CHECK_STR(out, "");
		CHECK_INT(child_end(&c, 2000), 111);
	}
}

static void
t_standby_dismissed(void)
{
	char		*argv[] = { "sh", "-c", "exit 7", NULL };
	struct child	 c;
	struct env	 add;

	CHECK_INT(standby_setup(&c, argv, &add), 0);
	env_free(&add);
	CHECK_INT(child_end(&c, 2000), 0);	/* 7 if sh had run */
}

static void
t_standby_exec_fails(void)
{
	char		*argv[] = { "/nonexistent/qmail-smtpd", NULL };
	struct child	 c;
	struct env	 add;

	CHECK_INT(standby_setup(&c, argv, &add), 0);
	CHECK_INT(child_launch(&c, &add), -1);
	CHECK_INT(errno, ENOENT);
	env_free(&add);
	CHECK_INT(child_end(&c, 2000), 111);
}

/*
 * What starttls-smtpd does: standby, narrow, launch.  The launched
 * program must not inherit the filter (it reports its seccomp mode).
 */
static void
t_standby_outside_sandbox(void)
{
	char		*argv[] = { "sh", "-c",
			    "sed -n 's/^Seccomp:[[:space:]]*//p' "
			    "/proc/self/status", NULL };
	struct child	 c;
	struct env	 add;
	char		 out[64];
	pid_t		 pid;
	int		 st;

	if (strcmp(sandbox_kind(), "none") == 0 ||
	    access("/proc/self/status", R_OK) != 0)
		return;
	if ((pid = fork()) == 0) {
		if (standby_setup(&c, argv, &add) == -1 ||
		    sandbox_relay(&c.pid, 1) == -1 ||
		    child_launch(&c, &add) == -1)
			_exit(2);
		child_output(&c, out, sizeof(out));
		if (strcmp(out, "0\n") != 0)
			_exit(3);
		_exit(child_end(&c, 2000) == 0 ? 0 : 4);
	}
	CHECK(pid > 0);
	while (waitpid(pid, &st, 0) == -1)
		;
	CHECK(WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), 0);
}

/* ------------------------------------------------------------------ */
/* the proxy state machine                                             */

#define BUFSZ	65536

static struct proxy	 P;
static int		 tlsready = 1;	/* what the relay's set-up says */
static char		 m_in[BUFSZ], m_tochild[BUFSZ];
static char		 m_chout[BUFSZ], m_toclient[BUFSZ];
static struct buf	 IN, TOCHILD, CHOUT, TOCLIENT;

static void
rig(int tls, int offer, int require, int transparent)
{
	tlsready = 1;
	proxy_init(&P, tls, offer, require, transparent);
	buf_init(&IN, m_in, sizeof(m_in));
	buf_init(&TOCHILD, m_tochild, sizeof(m_tochild));
	buf_init(&CHOUT, m_chout, sizeof(m_chout));
	buf_init(&TOCLIENT, m_toclient, sizeof(m_toclient));
}

/* As the relay does: a STARTTLS accepted is answered once TLS is set up. */
static void
client_step(void)
{
	proxy_client(&P, &IN, &TOCHILD, &TOCLIENT);
	if (P.state == PROXY_TLSWANTED)
		proxy_tlsready(&P, tlsready, &TOCLIENT);
}

static int
client_n(const char *s, size_t n)
{
	if (buf_put(&IN, s, n) == -1)
		return -1;
	client_step();
	return 0;
}

static int
server_n(const char *s, size_t n)
{
	if (buf_put(&CHOUT, s, n) == -1)
		return -1;
	proxy_child(&P, &CHOUT, &TOCLIENT);
	return 0;
}

#define CLIENT(s)	CHECK(client_n(L(s)) == 0)
#define SERVER(s)	CHECK(server_n(L(s)) == 0)
#define CLIENT_AGAIN()	client_step()
#define STATE(s)	CHECK_INT(P.state, s)

#define GREET() do {							\
	SERVER("220 host ESMTP\r\n");					\
	EXPECT(TOCLIENT, "220 host ESMTP\r\n");				\
	CHECK_INT(P.ntags, 0);						\
} while (0)

#define EHLO_QMAIL	"250-host\r\n250-PIPELINING\r\n250 8BITMIME\r\n"

/* a. greeting and EHLO rewriting */

static void
t_px_greeting(void)
{
	rig(0, 1, 0, 0);
	SERVER("220 host ESMTP\r\n");
	EXPECT(TOCLIENT, "220 host ESMTP\r\n");
	EXPECT_EMPTY(TOCHILD);
	CHECK_INT(P.ntags, 0);
	CHECK_INT(CHOUT.len, 0);
	STATE(PROXY_COMMAND);
}

static void
t_px_ehlo_offer(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	EXPECT_EMPTY(TOCLIENT);
	SERVER(EHLO_QMAIL);
	EXPECT(TOCLIENT,
	    "250-host\r\n250-STARTTLS\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
	CHECK_INT(P.ntags, 0);
	CHECK_INT(CHOUT.len, 0);
}

static void
t_px_ehlo_nooffer(void)
{
	rig(0, 0, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	SERVER(EHLO_QMAIL);
	EXPECT(TOCLIENT, EHLO_QMAIL);
	CHECK_INT(P.ntags, 0);
}

static void
t_px_ehlo_single(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	SERVER("250 host\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250 STARTTLS\r\n");
	CHECK_INT(P.ntags, 0);
}

static void
t_px_ehlo_has_starttls(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	SERVER("250-host\r\n250-STARTTLS\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
	EXPECT(TOCLIENT,
	    "250-host\r\n250-STARTTLS\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
}

static void
t_px_ehlo_has_starttls_last(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	SERVER("250-host\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250-STARTTLS\r\n250 PIPELINING\r\n");
}

static void
t_px_ehlo_refused(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	SERVER("550-no\r\n550 not you\r\n");
	EXPECT(TOCLIENT, "550-no\r\n550 not you\r\n");
	CLIENT("EHLO y\r\n");
	SERVER("502 unimplemented (#5.5.1)\r\n");
	EXPECT(TOCLIENT, "502 unimplemented (#5.5.1)\r\n");
	CHECK_INT(P.ntags, 0);
}

/* HELO is not rewritten */
static void
t_px_helo_untouched(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("HELO x\r\n");
	EXPECT(TOCHILD, "HELO x\r\n");
	SERVER("250 host\r\n");
	EXPECT(TOCLIENT, "250 host\r\n");
}

/*
 * "250" without text is a valid last reply line (RFC 5321 Reply-line);
 * whatever the rewrite does, the client must still see ONE reply, i.e.
 * only its last line may be a last line, and it must offer STARTTLS.
 */
static void
t_px_ehlo_bare_code(void)
{
	const char	*d, *nl, *end;
	size_t		 n;
	int		 lasts = 0, kw = 0;

	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	SERVER("250\r\n");
	d = buf_data(&TOCLIENT);
	end = d + TOCLIENT.len;
	for (; d < end; d += n) {
		nl = memchr(d, '\n', (size_t)(end - d));
		n = nl != NULL ? (size_t)(nl - d) + 1 : (size_t)(end - d);
		if (smtp_reply_last(d, n) && d + n < end)
			lasts++;
		if (smtp_ehlo_keyword(d, n, "STARTTLS"))
			kw++;
	}
	if (lasts != 0 || kw != 1)
		FAIL("rewritten reply \"%s\" ends early (%d) or has %d STARTTLS",
		    esc(buf_data(&TOCLIENT), TOCLIENT.len), lasts, kw);
}

static void
t_px_posttls_strip_last(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	SERVER("220 host ESMTP\r\n");
	EXPECT_EMPTY(TOCLIENT);
	SERVER("250-host\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250 PIPELINING\r\n");
	CHECK_INT(P.ntags, 0);
}

static void
t_px_posttls_strip_middle(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	CLIENT("EHLO x\r\n");
	SERVER("220 host ESMTP\r\n");
	SERVER("250-host\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250 8BITMIME\r\n");
}

static void
t_px_posttls_strip_only(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	CLIENT("EHLO x\r\n");
	SERVER("220 host ESMTP\r\n");
	SERVER("250-host\r\n250 starttls\r\n");
	EXPECT(TOCLIENT, "250 host\r\n");
}

/* implicit TLS (port 465): never offered, a server's STARTTLS removed */
static void
t_px_smtps_no_offer(void)
{
	rig(1, 1, 1, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	SERVER("250-host\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250 8BITMIME\r\n");
	CLIENT("MAIL FROM:<a>\r\n");
	EXPECT(TOCHILD, "EHLO x\r\nMAIL FROM:<a>\r\n");
	CLIENT("STARTTLS\r\n");
	SERVER("250 ok\r\n");
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "250 ok\r\n503 TLS already active (#5.5.1)\r\n");
}

/* b. injection */

static void
t_px_injection(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("STARTTLS\r\nRSET\r\nMAIL FROM:<x@evil>\r\n");
	EXPECT_EMPTY(TOCHILD);
	EXPECT(TOCLIENT, "220 ready for tls\r\n");
	STATE(PROXY_STARTTLS);
	CHECK_INT(P.discarded, sizeof("RSET\r\nMAIL FROM:<x@evil>\r\n") - 1);
	CHECK_INT(IN.len, 0);
	CHECK_INT(proxy_reading(&P), 0);
	CHECK_INT(proxy_listening(&P), 0);
}

/*
 * TLS is set up only when a client asks; if that fails, 454, the session
 * goes on in plaintext, and STARTTLS is no longer advertised or accepted.
 */
static void
t_px_tls_setup_fails(void)
{
	rig(0, 1, 0, 0);
	tlsready = 0;
	GREET();
	CLIENT("STARTTLS\r\n");
	EXPECT_EMPTY(TOCHILD);
	EXPECT(TOCLIENT, "454 TLS not available (#4.7.0)\r\n");
	STATE(PROXY_COMMAND);
	CHECK_INT(proxy_reading(&P), 1);
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	SERVER("250-host\r\n250 8BITMIME\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250 8BITMIME\r\n");
	CLIENT("STARTTLS\r\n");
	EXPECT(TOCLIENT, "454 TLS not available (#4.7.0)\r\n");
	CLIENT("MAIL FROM:<a>\r\n");
	EXPECT(TOCHILD, "MAIL FROM:<a>\r\n");
}

/* while TLS is being set up, nothing is read or answered */
static void
t_px_tls_wanted_waits(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CHECK(buf_put(&IN, L("STARTTLS\r\n")) == 0);
	proxy_client(&P, &IN, &TOCHILD, &TOCLIENT);
	STATE(PROXY_TLSWANTED);
	EXPECT_EMPTY(TOCLIENT);
	CHECK_INT(proxy_reading(&P), 0);
	CHECK_INT(proxy_listening(&P), 0);
	proxy_tlsready(&P, 1, &TOCLIENT);
	STATE(PROXY_STARTTLS);
	EXPECT(TOCLIENT, "220 ready for tls\r\n");
}

/* a NUL ends the line for qmail: "STARTTLS\0junk" is a STARTTLS */
static void
t_px_injection_nul(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CHECK(client_n(L("STARTTLS\0junk\r\nRSET\r\n")) == 0);
	EXPECT_EMPTY(TOCHILD);
	EXPECT(TOCLIENT, "220 ready for tls\r\n");
	STATE(PROXY_STARTTLS);
	CHECK_INT(P.discarded, 6);
}

/* pipelined behind a command: its reply goes out first, then 220 */
static void
t_px_injection_pipelined(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("NOOP\r\nSTARTTLS\r\nRSET\r\n");
	EXPECT(TOCHILD, "NOOP\r\n");
	EXPECT_EMPTY(TOCLIENT);
	STATE(PROXY_COMMAND);
	SERVER("250 ok\r\n");
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "250 ok\r\n220 ready for tls\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_STARTTLS);
	CHECK_INT(P.discarded, 6);
}

/* c. ordering */

static void
t_px_order_ehlo_starttls(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\nSTARTTLS\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	EXPECT_EMPTY(TOCLIENT);
	STATE(PROXY_COMMAND);
	SERVER(EHLO_QMAIL);
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "250-host\r\n250-STARTTLS\r\n250-PIPELINING\r\n"
	    "250 8BITMIME\r\n220 ready for tls\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_STARTTLS);
	CHECK_INT(P.discarded, 0);
}

/* STARTTLS before the greeting has arrived waits for it */
static void
t_px_order_before_greeting(void)
{
	rig(0, 1, 0, 0);
	CLIENT("STARTTLS\r\n");
	EXPECT_EMPTY(TOCLIENT);
	EXPECT_EMPTY(TOCHILD);
	SERVER("220 host ESMTP\r\n");
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "220 host ESMTP\r\n220 ready for tls\r\n");
	STATE(PROXY_STARTTLS);
}

/* d. our own replies */

static void
t_px_starttls_arg(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("STARTTLS x\r\nNOOP\r\n");
	EXPECT(TOCLIENT, "501 Syntax error (no parameters allowed) (#5.5.4)\r\n");
	EXPECT(TOCHILD, "NOOP\r\n");
	STATE(PROXY_COMMAND);
	CHECK_INT(P.ntags, 1);
}

static void
t_px_starttls_trailing_space(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("STARTTLS \r\n");
	EXPECT(TOCLIENT, "220 ready for tls\r\n");
	STATE(PROXY_STARTTLS);
}

static void
t_px_starttls_nooffer(void)
{
	rig(0, 0, 0, 0);
	GREET();
	CLIENT("STARTTLS\r\n");
	EXPECT(TOCLIENT, "454 TLS not available (#4.7.0)\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_COMMAND);
	CLIENT("MAIL FROM:<a>\r\n");
	EXPECT(TOCHILD, "MAIL FROM:<a>\r\n");
}

static void
t_px_starttls_again(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	SERVER("220 host ESMTP\r\n");
	EXPECT_EMPTY(TOCLIENT);
	CLIENT("STARTTLS\r\n");
	EXPECT(TOCLIENT, "503 TLS already active (#5.5.1)\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_COMMAND);
}

static void
t_px_require_mail(void)
{
	rig(0, 1, 1, 0);
	GREET();
	CLIENT("MAIL FROM:<a>\r\n");
	EXPECT(TOCLIENT, "530 Must issue a STARTTLS command first (#5.7.0)\r\n");
	EXPECT_EMPTY(TOCHILD);
	CLIENT("RCPT TO:<b>\r\nDATA\r\n");
	EXPECT(TOCLIENT, "530 Must issue a STARTTLS command first (#5.7.0)\r\n"
	    "530 Must issue a STARTTLS command first (#5.7.0)\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_COMMAND);
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
}

/* e. DATA */

static void
t_px_data_body(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("DATA\r\n");
	EXPECT(TOCHILD, "DATA\r\n");
	STATE(PROXY_DATAWAIT);
	CLIENT("Subject: x\r\n\r\nSTARTTLS\r\n");
	EXPECT_EMPTY(TOCHILD);
	EXPECT_EMPTY(TOCLIENT);
	CHECK_INT(IN.len, 24);
	SERVER("354 go ahead\r\n");
	EXPECT(TOCLIENT, "354 go ahead\r\n");
	STATE(PROXY_BODY);
	CLIENT_AGAIN();
	EXPECT(TOCHILD, "Subject: x\r\n\r\nSTARTTLS\r\n");
	EXPECT_EMPTY(TOCLIENT);
	STATE(PROXY_BODY);
	CLIENT("..\r\n.\r\nSTARTTLS\r\n");
	EXPECT(TOCHILD, "..\r\n.\r\n");
	EXPECT_EMPTY(TOCLIENT);
	STATE(PROXY_COMMAND);
	SERVER("250 ok\r\n");
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "250 ok\r\n220 ready for tls\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_STARTTLS);
}

/* the end of data split over calls */
static void
t_px_data_split_end(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("DATA\r\n");
	SERVER("354 go ahead\r\n");
	EXPECT(TOCLIENT, "354 go ahead\r\n");
	CLIENT("hi\r\n.");
	CLIENT("\r");
	EXPECT(TOCHILD, "DATA\r\nhi\r\n.\r");
	STATE(PROXY_BODY);
	CLIENT("\nQUIT\r\n");
	/* the end of data, then QUIT: pipelined, forwarded at once */
	EXPECT(TOCHILD, "\nQUIT\r\n");
	STATE(PROXY_QUIT);
	CHECK_INT(P.ntags, 2);
	SERVER("250 ok\r\n221 host\r\n");
	EXPECT(TOCLIENT, "250 ok\r\n221 host\r\n");
	CHECK_INT(P.ntags, 0);
}

static void
t_px_data_refused(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("DATA\r\nSTARTTLS\r\n");
	EXPECT(TOCHILD, "DATA\r\n");
	STATE(PROXY_DATAWAIT);
	SERVER("503 RCPT first (#5.5.1)\r\n");
	STATE(PROXY_COMMAND);
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "503 RCPT first (#5.5.1)\r\n220 ready for tls\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_STARTTLS);
}

/* a bare LF: qmail-smtpd answers 451 and exits; nothing more is a command */
static void
t_px_data_stray(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("DATA\r\n");
	SERVER("354 go ahead\r\n");
	EXPECT(TOCLIENT, "354 go ahead\r\n");
	CLIENT("hi\nthere\r\n.\r\nSTARTTLS\r\n");
	EXPECT(TOCHILD, "DATA\r\nhi\n");
	STATE(PROXY_QUIT);
	SERVER("451 See https://cr.yp.to/docs/smtplf.html.\r\n");
	EXPECT(TOCLIENT, "451 See https://cr.yp.to/docs/smtplf.html.\r\n");
	CLIENT_AGAIN();
	EXPECT_EMPTY(TOCHILD);
	EXPECT_EMPTY(TOCLIENT);
}

/* f. multi-line and split replies */

static void
t_px_multiline_greeting(void)
{
	rig(0, 1, 0, 0);
	SERVER("220-host ESMTP\r\n220-more\r\n220 end\r\n");
	EXPECT(TOCLIENT, "220-host ESMTP\r\n220-more\r\n220 end\r\n");
	CHECK_INT(P.ntags, 0);
}

static void
t_px_split_reply(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("NOOP\r\n");
	SERVER("250-a\r\n25");
	CHECK_INT(P.ntags, 1);
	SERVER("0 b\r\n");
	EXPECT(TOCLIENT, "250-a\r\n250 b\r\n");
	CHECK_INT(P.ntags, 0);
	CHECK_INT(CHOUT.len, 0);
}

static void
t_px_split_ehlo(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	SERVER("250-host\r\n250-PIPE");
	SERVER("LINING\r\n250 8BIT");
	SERVER("MIME\r\n");
	EXPECT(TOCLIENT,
	    "250-host\r\n250-STARTTLS\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
	CHECK_INT(P.ntags, 0);
}

static void
t_px_bytewise_replies(void)
{
	static const char	 r[] = "220-a\r\n220 b\r\n" EHLO_QMAIL
	    "250-x\r\n250 y\r\n";
	size_t			 i;

	rig(0, 1, 0, 0);
	CLIENT("EHLO x\r\nNOOP\r\n");
	EXPECT(TOCHILD, "EHLO x\r\nNOOP\r\n");
	for (i = 0; i < sizeof(r) - 1; i++)
		CHECK(server_n(r + i, 1) == 0);
	EXPECT(TOCLIENT, "220-a\r\n220 b\r\n250-host\r\n250-STARTTLS\r\n"
	    "250-PIPELINING\r\n250 8BITMIME\r\n250-x\r\n250 y\r\n");
	CHECK_INT(P.ntags, 0);
}

/* g. transparent */

static void
t_px_transparent(void)
{
	rig(0, 1, 0, 1);
	SERVER("220 host ESMTP\r\n");
	EXPECT(TOCLIENT, "220 host ESMTP\r\n");
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	SERVER("250-host\r\n250 8BITMIME\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250 8BITMIME\r\n");
	CLIENT("STARTTLS\r\nRSET\r\n");
	EXPECT(TOCHILD, "STARTTLS\r\nRSET\r\n");
	EXPECT_EMPTY(TOCLIENT);
	STATE(PROXY_COMMAND);
	SERVER("250-host\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
	CHECK(client_n(L("x\ny\0z")) == 0);
	if (!buf_is(&TOCHILD, L("x\ny\0z"), "TOCHILD", __LINE__))
		return;
}

/* h. the greeting of the server started after TLS */

static void
t_px_swallow_greeting(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	SERVER("220 host ESMTP\r\n250-host\r\n250 8BITMIME\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250 8BITMIME\r\n");
	CHECK_INT(P.ntags, 0);
	STATE(PROXY_COMMAND);
}

static void
t_px_swallow_multiline(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	CLIENT("EHLO x\r\n");
	SERVER("220-host ESMTP\r\n220 more\r\n250 host\r\n");
	EXPECT(TOCLIENT, "250 host\r\n");
	CHECK_INT(P.ntags, 0);
}

static void
t_px_refused_pending(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	SERVER("421 go away\r\n");
	CLIENT_AGAIN();		/* the relay calls it on every pass */
	EXPECT(TOCLIENT, "421 go away\r\n");
	STATE(PROXY_END);
	CHECK_INT(proxy_listening(&P), 0);
}

/* our own reply waits for room rather than being lost (review F4) */
static void
t_px_own_reply_waits_for_room(void)
{
	static char	 filler[65536];

	rig(0, 1, 0, 0);
	GREET();
	memset(filler, 'x', sizeof(filler));
	CHECK(buf_put(&TOCLIENT, filler, sizeof(m_toclient) - 10) == 0);
	CLIENT("STARTTLS x\r\nQUIT\r\n");
	CHECK_INT(TOCHILD.len, 0);		/* QUIT waits behind it */
	buf_drop(&TOCLIENT, TOCLIENT.len);
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "501 Syntax error (no parameters allowed) "
	    "(#5.5.4)\r\n");
	EXPECT(TOCHILD, "QUIT\r\n");
}

/* after the client's EOF only what can never be used is dropped */
static void
t_px_leftover(void)
{
	rig(0, 1, 0, 0);
	CHECK(buf_puts(&IN, "QUIT\r\n") == 0);
	CHECK_INT(proxy_leftover(&P, &IN), 0);	/* a whole line waits */
	buf_drop(&IN, IN.len);
	CHECK(buf_puts(&IN, "QUI") == 0);
	CHECK_INT(proxy_leftover(&P, &IN), 1);	/* half a line */
	P.state = PROXY_BODY;
	CHECK_INT(proxy_leftover(&P, &IN), 0);	/* message bytes */
	P.state = PROXY_QUIT;
	CHECK_INT(proxy_leftover(&P, &IN), 1);	/* nobody reads on */
	P.state = PROXY_COMMAND;
	P.transparent = 1;
	CHECK_INT(proxy_leftover(&P, &IN), 0);
}

/* refused before the client said anything: the next line gets it */
static void
t_px_refused_later(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	SERVER("421 go away\r\n");
	EXPECT_EMPTY(TOCLIENT);
	STATE(PROXY_REFUSED);
	CLIENT("EHLO");
	EXPECT_EMPTY(TOCLIENT);
	CLIENT(" x\r\nMAIL FROM:<a>\r\n");
	EXPECT(TOCLIENT, "421 go away\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_END);
}

/* i. very long lines */

/* Feed s/n through IN as the relay does; TOCHILD is checked against fwd. */
static int
pump_client(const char *s, size_t n, const char *fwd, size_t fwdlen,
    size_t *got)
{
	size_t	 k, room;
	int	 idle = 0;

	while (n > 0 || IN.len > 0) {
		room = buf_room(&IN);
		k = n < room ? n : room;
		if (k > 0)
			buf_put(&IN, s, k);
		s += k;
		n -= k;
		proxy_client(&P, &IN, &TOCHILD, &TOCLIENT);
		if (TOCHILD.len > 0) {
			if (*got + TOCHILD.len > fwdlen ||
			    memcmp(fwd + *got, buf_data(&TOCHILD),
			    TOCHILD.len) != 0) {
				FAIL("forwarded bytes differ at offset %zu: "
				    "\"%s\"", *got, esc(buf_data(&TOCHILD),
				    TOCHILD.len));
				return -1;
			}
			*got += TOCHILD.len;
			buf_drop(&TOCHILD, TOCHILD.len);
			idle = 0;
		} else if (k == 0 && ++idle > 2)
			return 0;	/* the proxy holds the rest */
	}
	return 0;
}

static void
t_px_long_line(void)
{
	static char	 line[1 << 20];
	size_t		 i, got = 0;

	memset(line, 'A', sizeof(line));
	memcpy(line, "XYZZY", 5);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	rig(0, 1, 0, 0);
	GREET();
	for (i = 0; i < sizeof(line); i += BUFSZ) {
		CHECK(client_n(line + i, BUFSZ) == 0);
		CHECK_INT(IN.len, 0);
		if (!buf_is(&TOCHILD, line + i, BUFSZ, "TOCHILD", __LINE__))
			return;
		got += TOCHILD.len;
		buf_drop(&TOCHILD, TOCHILD.len);
		EXPECT_EMPTY(TOCLIENT);
	}
	CHECK_INT(got, sizeof(line));
	CHECK_INT(P.ntags, 1);
	SERVER("250 ok\r\n");
	EXPECT(TOCLIENT, "250 ok\r\n");
	CHECK_INT(P.ntags, 0);
	CLIENT("STARTTLS\r\n");
	EXPECT(TOCLIENT, "220 ready for tls\r\n");
	STATE(PROXY_STARTTLS);
}

/* the same, not aligned with the buffer, and pipelined with NOOP */
static void
t_px_long_line_unaligned(void)
{
	static char	 in[(1 << 20) + 32], line[1 << 20];
	size_t		 got = 0;
	size_t		 n;

	memset(line, 'B', sizeof(line));
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	memcpy(in, "NOOP\r\n", 6);
	memcpy(in + 6, line, sizeof(line));
	memcpy(in + 6 + sizeof(line), "STARTTLS\r\n", 10);
	n = 6 + sizeof(line) + 10;
	rig(0, 1, 0, 0);
	GREET();
	if (pump_client(in, n, in, 6 + sizeof(line), &got) == -1)
		return;
	CHECK_INT(got, 6 + sizeof(line));
	CHECK_INT(P.ntags, 2);
	EXPECT_EMPTY(TOCLIENT);
	SERVER("250 ok\r\n502 unimplemented (#5.5.1)\r\n");
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "250 ok\r\n502 unimplemented (#5.5.1)\r\n"
	    "220 ready for tls\r\n");
	STATE(PROXY_STARTTLS);
}

/* a 1 MiB STARTTLS line with an argument: one 501, nothing forwarded */
static void
t_px_long_starttls(void)
{
	static char	 line[1 << 20];
	size_t		 got = 0;

	memset(line, 'C', sizeof(line));
	memcpy(line, "STARTTLS ", 9);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	rig(0, 1, 0, 0);
	GREET();
	if (pump_client(line, sizeof(line), "", 0, &got) == -1)
		return;
	CHECK_INT(got, 0);
	EXPECT(TOCLIENT, "501 Syntax error (no parameters allowed) (#5.5.4)\r\n");
	CHECK_INT(P.ntags, 0);
	CLIENT("NOOP\r\n");
	EXPECT(TOCHILD, "NOOP\r\n");
}

/* more pipelined commands than tags: all replies matched, in order */
static void
t_px_many_pipelined(void)
{
	enum { N = 3000 };
	static char	 cmds[N * 6 + 10];
	size_t		 i, ncmd = 0, nrep = 0, n, k;
	const char	*d;
	int		 rounds = 0;

	for (i = 0; i < N; i++)
		memcpy(cmds + i * 6, "NOOP\r\n", 6);
	memcpy(cmds + N * 6, "STARTTLS\r\n", 10);
	rig(0, 1, 0, 0);
	GREET();
	n = sizeof(cmds);
	d = cmds;
	while (nrep < N && rounds++ < 10000) {
		k = buf_room(&IN) < n ? buf_room(&IN) : n;
		buf_put(&IN, d, k);
		d += k;
		n -= k;
		proxy_client(&P, &IN, &TOCHILD, &TOCLIENT);
		CHECK(P.ntags < PROXY_MAXTAGS);
		for (i = 0; i < TOCHILD.len; i++)
			if (buf_data(&TOCHILD)[i] == '\n')
				ncmd++;
		buf_drop(&TOCHILD, TOCHILD.len);
		/* the server answers whatever it has read so far */
		while (nrep < ncmd && buf_puts(&CHOUT, "250 ok\r\n") == 0) {
			proxy_child(&P, &CHOUT, &TOCLIENT);
			if (!buf_is(&TOCLIENT, "250 ok\r\n", 8, "TOCLIENT",
			    __LINE__))
				return;
			buf_drop(&TOCLIENT, TOCLIENT.len);
			nrep++;
		}
	}
	CHECK_INT(ncmd, N);
	CHECK_INT(nrep, N);
	CHECK_INT(P.ntags, 0);
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "220 ready for tls\r\n");
	STATE(PROXY_STARTTLS);
}

/* QUIT: no more commands after it */
static void
t_px_quit(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("QUIT\r\nSTARTTLS\r\n");
	EXPECT(TOCHILD, "QUIT\r\n");
	STATE(PROXY_QUIT);
	SERVER("221 host\r\n");
	EXPECT(TOCLIENT, "221 host\r\n");
	CLIENT_AGAIN();
	EXPECT_EMPTY(TOCLIENT);
	EXPECT_EMPTY(TOCHILD);
}

/* ------------------------------------------------------------------ */

static void
t_control_tmpdir(void)
{
	CHECK(tmp_make() == 0);
}

/* --------------------------------------------------- remote: smtproutes */

static const char routes[] =
    "example.org:relay.example:2525\n"
    ".sub.example:[192.0.2.9]:26\r\n"
    "mx.example:\n"
    "spaces.example:spaced.example  \n"
    "noname.example::2526\n"
    "long.example:" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
    ":default.example\n";

static void
t_route(void)
{
	char	 relay[32];
	int	 port;

#define ROUTE(host) route_find(routes, sizeof(routes) - 1, (host), relay, \
	    sizeof(relay), &port)
	port = 25;
	CHECK_INT(ROUTE("example.org"), 1);
	CHECK_STR(relay, "relay.example");
	CHECK_INT(port, 2525);
	port = 25;
	CHECK_INT(ROUTE("EXAMPLE.ORG"), 1);	/* case does not matter */
	port = 25;
	CHECK_INT(ROUTE("a.b.sub.example"), 1);	/* a suffix, a literal */
	CHECK_STR(relay, "[192.0.2.9]");
	CHECK_INT(port, 26);
	CHECK_INT(ROUTE("sub.example"), 1);	/* ".sub" is not "sub" */
	CHECK_STR(relay, "default.example");
	port = 25;
	CHECK_INT(ROUTE("spaces.example"), 1);
	CHECK_STR(relay, "spaced.example");
	CHECK_INT(port, 25);
	CHECK_INT(ROUTE("mx.example"), 0);	/* "domain:" means MX */
	port = 25;
	CHECK_INT(ROUTE("noname.example"), 1);	/* as qmail-remote: "" */
	CHECK_STR(relay, "");
	CHECK_INT(port, 2526);
	CHECK_INT(ROUTE("long.example"), 0);	/* too long: not used */
	CHECK_INT(ROUTE("other.example"), 1);	/* the default route */
	CHECK_STR(relay, "default.example");
	CHECK_INT(route_find("", 0, "example.org", relay, sizeof(relay),
	    &port), 0);
#undef ROUTE
}

/* ------------------------------------------------ remote: the message */

/* What blast_send() makes of in, and its result. */
static enum blast
blast_of(const char *in, size_t inlen, char *out, size_t outlen, size_t *n)
{
	struct smtpc	 s;
	int		 msg[2], sv[2];
	enum blast	 b;
	ssize_t		 r;

	if (pipe(msg) == -1 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return BLAST_READ_FAILED;
	(void)write(msg[1], in, inlen);
	close(msg[1]);
	smtpc_init(&s, sv[0], 5000);
	b = blast_send(msg[0], &s);
	close(msg[0]);
	close(sv[0]);
	*n = 0;
	while ((r = read(sv[1], out + *n, outlen - *n)) > 0)
		*n += (size_t)r;
	close(sv[1]);
	return b;
}

static void
t_blast(void)
{
	static const struct {
		const char	*in, *out;
		enum blast	 result;
	} cases[] = {
		{ "a\n.b\n", "a\r\n..b\r\n", BLAST_OK },
		{ "a\r\nb\r\n", "a\r\nb\r\n", BLAST_OK },
		{ "a\rb\n", "a\r\nb\r\n", BLAST_OK },
		{ "a\r.\n", "a\r\n..\r\n", BLAST_OK },	/* a '.' after a bare CR */
		{ ".\n..\n", "..\r\n...\r\n", BLAST_OK },
		{ "a\r", "a\r\n", BLAST_OK },
		{ "", "", BLAST_OK },
		{ "a\nno end", "a\r\nno end", BLAST_PARTIAL_LINE },
	};
	char	 out[256];
	size_t	 i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(blast_of(cases[i].in, strlen(cases[i].in), out,
		    sizeof(out) - 1, &n), cases[i].result);
		out[n] = '\0';
		CHECK_STR(out, cases[i].out);
	}
}

/* ------------------------------------------------ remote: our addresses */

static void
t_ipme(void)
{
	struct sockaddr_in	 a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_INT(ipme_is((struct sockaddr *)&a), 1);
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	CHECK_INT(ipme_is((struct sockaddr *)&a), 1);
	a.sin_addr.s_addr = htonl(0xc0000201);	/* 192.0.2.1, TEST-NET-1 */
	CHECK_INT(ipme_is((struct sockaddr *)&a), 0);
}

/* the one sanitizer: printable ASCII stays, spaces only in lines */
static void
t_text_safe(void)
{
	CHECK_INT(text_safe('a', TEXT_NOSPACE), 'a');
	CHECK_INT(text_safe('~', TEXT_NOSPACE), '~');
	CHECK_INT(text_safe(' ', TEXT_NOSPACE), '?');
	CHECK_INT(text_safe(' ', TEXT_SPACE), ' ');
	CHECK_INT(text_safe('\n', TEXT_SPACE), '?');
	CHECK_INT(text_safe('\0', TEXT_SPACE), '?');
	CHECK_INT(text_safe(0x7f, TEXT_SPACE), '?');
	CHECK_INT(text_safe((char)0xe9, TEXT_SPACE), '?');
}

int
main(void)
{
	char	 name[512];
	size_t	 i;

	run("text_safe: printable ASCII only", t_text_safe);
	run("smtproutes: exact, suffix, default, port, MX, too long", t_route);
	run("blast: CRLF, dot-stuffing, bare CR, partial last line", t_blast);
	run("ipme: loopback and 0.0.0.0 are ours, TEST-NET is not", t_ipme);

	/* 1. smtp_verb */
	for (i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		vcur = &vcases[i];
		snprintf(name, sizeof(name), "smtp_verb \"%s\" is %s%s",
		    esc(vcur->line, vcur->len), verbname(vcur->verb),
		    vcur->hasarg ? " with argument" : "");
		run(name, t_verb_case);
	}
	run("smtp_verb incomplete 70000 x A is other with argument",
	    t_verb_long_other);
	run("smtp_verb incomplete STARTTLS and spaces is STARTTLS with "
	    "argument", t_verb_long_starttls_spaces);
	run("smtp_verb incomplete DATA x... is DATA with argument",
	    t_verb_long_data_arg);
	run("smtp_verb incomplete \"STARTTLS\\r\" is other",
	    t_verb_incomplete_cr);
	run("smtp_verbname", t_verbname);

	/* 2. smtp_body_scan */
	for (i = 0; i < sizeof(bcases) / sizeof(bcases[0]); i++) {
		bcur = &bcases[i];
		snprintf(name, sizeof(name), "smtp_body_scan %s \"%s\"",
		    bcur->name, esc(bcur->s, bcur->len));
		run(name, t_body_case);
		snprintf(name, sizeof(name), "smtp_body_scan byte at a time "
		    "%s \"%s\"", bcur->name, esc(bcur->s, bcur->len));
		run(name, t_body_case_bytewise);
	}
	run("smtp_body_scan state after an end starts a new message",
	    t_body_end_resets);
	run("smtp_body_scan end split over three calls", t_body_split);

	/* 3. replies */
	run("smtp_reply 250-PIPELINING is not last", t_reply_continued);
	run("smtp_reply 250 8BITMIME is last", t_reply_last);
	run("smtp_reply 250 without text is last", t_reply_bare_code);
	run("smtp_reply_code of 25 is -1", t_reply_short);
	run("smtp_ehlo_keyword 250-STARTTLS", t_kw_continued);
	run("smtp_ehlo_keyword 250 starttls", t_kw_last_lower);
	run("smtp_ehlo_keyword not in 250-STARTTLSX", t_kw_longer);
	run("smtp_ehlo_keyword 250-STARTTLS foo", t_kw_param);
	run("smtp_ehlo_keyword not in other keywords", t_kw_other);

	/* 4. buf */
	run("buf put and room", t_buf_put);
	run("buf drop", t_buf_drop);
	run("buf room slides held bytes to the front", t_buf_room_slides);
	run("buf put slides when the tail is short", t_buf_put_slides);
	run("buf put is all or nothing when full", t_buf_put_all_or_nothing);
	run("buf move limited by destination room", t_buf_move_dst_room);
	run("buf move limited by n and source length", t_buf_move_src_len);

	/* 5. control */
	run("control temporary directory", t_control_tmpdir);
	if (tmpdir[0] != '\0') {
		run("control_readline first line, trailing blanks and CR "
		    "stripped", t_readline_first);
		run("control_readline without newline", t_readline_nonewline);
		run("control_readline empty file", t_readline_empty);
		run("control_readline missing file is 0", t_readline_missing);
		run("control_readline too long is -1", t_readline_toolong);
		run("control_readline read error is -1", t_readline_error);
		run("control_readint number", t_readint_good);
		run("control_readint bad number is -1", t_readint_bad);
		run("control_readint missing file is 0", t_readint_missing);
		run("control_hasline case-insensitive, blanks ignored",
		    t_hasline_match);
		run("control_hasline no partial matches", t_hasline_nomatch);
		run("control_hasline comment lines never match",
		    t_hasline_comments);
		run("control_hasline empty lines never match",
		    t_hasline_empty);
		run("control_hasline missing file is 0", t_hasline_missing);
		tmp_remove();
	}

	/* 6. proxy */
	run("proxy greeting passes unchanged", t_px_greeting);
	run("proxy EHLO reply gets STARTTLS when offered", t_px_ehlo_offer);
	run("proxy EHLO reply unchanged when not offered", t_px_ehlo_nooffer);
	run("proxy single-line EHLO reply gets STARTTLS", t_px_ehlo_single);
	run("proxy server STARTTLS not advertised twice",
	    t_px_ehlo_has_starttls);
	run("proxy server STARTTLS as last line not advertised twice",
	    t_px_ehlo_has_starttls_last);
	run("proxy non-2xx EHLO reply unchanged", t_px_ehlo_refused);
	run("proxy HELO reply unchanged", t_px_helo_untouched);
	run("proxy EHLO reply 250 without text stays one reply",
	    t_px_ehlo_bare_code);
	run("proxy after TLS server STARTTLS removed from last line",
	    t_px_posttls_strip_last);
	run("proxy after TLS server STARTTLS removed from middle line",
	    t_px_posttls_strip_middle);
	run("proxy after TLS server STARTTLS removed, only host left",
	    t_px_posttls_strip_only);
	run("proxy implicit TLS never offers STARTTLS", t_px_smtps_no_offer);
	run("proxy injection after STARTTLS is discarded", t_px_injection);
	run("proxy TLS set-up failing at STARTTLS: 454, plaintext goes on",
	    t_px_tls_setup_fails);
	run("proxy waits while TLS is set up", t_px_tls_wanted_waits);
	run("proxy STARTTLS NUL junk is STARTTLS, rest discarded",
	    t_px_injection_nul);
	run("proxy pipelined STARTTLS waits, injection discarded",
	    t_px_injection_pipelined);
	run("proxy EHLO then STARTTLS: 220 after the EHLO reply",
	    t_px_order_ehlo_starttls);
	run("proxy STARTTLS before greeting waits for it",
	    t_px_order_before_greeting);
	run("proxy STARTTLS with argument is 501", t_px_starttls_arg);
	run("proxy STARTTLS trailing space has no argument",
	    t_px_starttls_trailing_space);
	run("proxy STARTTLS without TLS is 454", t_px_starttls_nooffer);
	run("proxy STARTTLS after TLS is 503", t_px_starttls_again);
	run("proxy require: MAIL RCPT DATA before STARTTLS are 530",
	    t_px_require_mail);
	run("proxy DATA body with STARTTLS held until 354 and passed",
	    t_px_data_body);
	run("proxy DATA end split over calls", t_px_data_split_end);
	run("proxy DATA refused keeps command mode", t_px_data_refused);
	run("proxy DATA bare LF ends the session", t_px_data_stray);
	run("proxy multi-line greeting intact", t_px_multiline_greeting);
	run("proxy reply split across calls intact", t_px_split_reply);
	run("proxy EHLO reply split across calls rewritten",
	    t_px_split_ehlo);
	run("proxy replies fed one byte at a time", t_px_bytewise_replies);
	run("proxy transparent passes bytes untouched", t_px_transparent);
	run("proxy after TLS greeting swallowed", t_px_swallow_greeting);
	run("proxy after TLS multi-line greeting swallowed",
	    t_px_swallow_multiline);
	run("proxy after TLS refusing greeting answers pending EHLO",
	    t_px_refused_pending);
	run("proxy after TLS refusing greeting answers next line",
	    t_px_refused_later);
	run("sandbox: a forbidden call (open) kills the relay",
	    t_sandbox_refuses_open);
	run("sandbox: what the relay does is allowed",
	    t_sandbox_allows_relaying);
	run("sandbox: signals its own children only",
	    t_sandbox_kill_children_only);
	run("sandbox: ends a stuck child through its pidfd",
	    t_sandbox_ends_child_by_pidfd);
	run("standby: becomes the program, with the environment sent",
	    t_standby_launch);
	run("standby: nothing added, the environment it holds",
	    t_standby_nothing_added);
	run("standby: refuses names not on its list (LD_PRELOAD, PATH)",
	    t_standby_refuses_other_names);
	run("standby: dismissed, it exits without running anything",
	    t_standby_dismissed);
	run("standby: a failed exec is reported", t_standby_exec_fails);
	run("standby: launched from a sandbox, runs outside it",
	    t_standby_outside_sandbox);
	run("proxy own reply waits for room in a full client buffer",
	    t_px_own_reply_waits_for_room);
	run("proxy after client EOF drops only what cannot be used",
	    t_px_leftover);
	run("proxy 1 MiB line forwarded whole, one reply", t_px_long_line);
	run("proxy 1 MiB line unaligned and pipelined",
	    t_px_long_line_unaligned);
	run("proxy 1 MiB STARTTLS line is one 501", t_px_long_starttls);
	run("proxy 3000 pipelined commands all answered in order",
	    t_px_many_pipelined);
	run("proxy QUIT ends commands", t_px_quit);

	return nfailed == 0 ? 0 : 1;
}
