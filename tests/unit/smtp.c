/*
 * Unit tests: qmail's command, DATA and reply rules (lib/smtp.c).
 */
#include "unit.h"

struct vcase {
	const char	*line;
	size_t		 len;
	int		 complete;
	int		 verb;
	int		 hasarg;
};


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
UNIT(t_verb_long_other,
    "smtp_verb incomplete 70000 x A is other with argument");

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
UNIT(t_verb_long_starttls_spaces,
    "smtp_verb incomplete STARTTLS and spaces is STARTTLS with argument");

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
UNIT(t_verb_long_data_arg,
    "smtp_verb incomplete DATA x... is DATA with argument");

/* an incomplete prefix keeps its '\r': it is not the end of the line */
static void
t_verb_incomplete_cr(void)
{
	int	 hasarg = -1;

	CHECK_INT(smtp_verb("STARTTLS\r", 9, 0, &hasarg), SMTP_OTHER);
	CHECK_INT(hasarg, 1);
}
UNIT(t_verb_incomplete_cr,
    "smtp_verb incomplete \"STARTTLS\\r\" is other");

static void
t_verbname(void)
{
	CHECK_STR(smtp_verbname(SMTP_STARTTLS), "starttls");
	CHECK_STR(smtp_verbname(SMTP_DATA), "data");
	CHECK_STR(smtp_verbname(SMTP_OTHER), "other");
}
UNIT(t_verbname, "smtp_verbname");

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
UNIT(t_body_end_resets,
    "smtp_body_scan state after an end starts a new message");

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
UNIT(t_body_split, "smtp_body_scan end split over three calls");

/* ------------------------------------------------------------------ */
/* reply lines                                                         */

static void
t_reply_continued(void)
{
	CHECK_INT(smtp_reply_code(L("250-PIPELINING\r\n")), 250);
	CHECK_INT(smtp_reply_last(L("250-PIPELINING\r\n")), 0);
}
UNIT(t_reply_continued, "smtp_reply 250-PIPELINING is not last");

static void
t_reply_last(void)
{
	CHECK_INT(smtp_reply_code(L("250 8BITMIME\r\n")), 250);
	CHECK_INT(smtp_reply_last(L("250 8BITMIME\r\n")), 1);
}
UNIT(t_reply_last, "smtp_reply 250 8BITMIME is last");

static void
t_reply_bare_code(void)
{
	CHECK_INT(smtp_reply_code(L("250\r\n")), 250);
	CHECK_INT(smtp_reply_last(L("250\r\n")), 1);
}
UNIT(t_reply_bare_code, "smtp_reply 250 without text is last");

static void
t_reply_short(void)
{
	CHECK_INT(smtp_reply_code(L("25")), -1);
	CHECK_INT(smtp_reply_code(L("2x0 no\r\n")), -1);
	CHECK_INT(smtp_reply_code(L("ok\r\n")), -1);
	CHECK_INT(smtp_reply_code(L("421 bye\r\n")), 421);
}
UNIT(t_reply_short, "smtp_reply_code of 25 is -1");

static void
t_kw_continued(void)
{
	CHECK_INT(smtp_ehlo_keyword(L("250-STARTTLS\r\n"), "STARTTLS"), 1);
}
UNIT(t_kw_continued, "smtp_ehlo_keyword 250-STARTTLS");

static void
t_kw_last_lower(void)
{
	CHECK_INT(smtp_ehlo_keyword(L("250 starttls\r\n"), "STARTTLS"), 1);
}
UNIT(t_kw_last_lower, "smtp_ehlo_keyword 250 starttls");

static void
t_kw_longer(void)
{
	CHECK_INT(smtp_ehlo_keyword(L("250-STARTTLSX\r\n"), "STARTTLS"), 0);
}
UNIT(t_kw_longer, "smtp_ehlo_keyword not in 250-STARTTLSX");

static void
t_kw_param(void)
{
	CHECK_INT(smtp_ehlo_keyword(L("250-STARTTLS foo\r\n"), "STARTTLS"), 1);
}
UNIT(t_kw_param, "smtp_ehlo_keyword 250-STARTTLS foo");

static void
t_kw_other(void)
{
	CHECK_INT(smtp_ehlo_keyword(L("250-PIPELINING\r\n"), "STARTTLS"), 0);
	CHECK_INT(smtp_ehlo_keyword(L("250-X STARTTLS\r\n"), "STARTTLS"), 0);
	CHECK_INT(smtp_ehlo_keyword(L("250-STARTTL\r\n"), "STARTTLS"), 0);
}
UNIT(t_kw_other, "smtp_ehlo_keyword not in other keywords");


static void
verb_cases(void)
{
	char	 name[512];
	size_t	 i;

	for (i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		vcur = &vcases[i];
		snprintf(name, sizeof(name), "smtp_verb \"%s\" is %s%s",
		    esc(vcur->line, vcur->len), verbname(vcur->verb),
		    vcur->hasarg ? " with argument" : "");
		run(name, t_verb_case);
	}
}
UNIT_SUITE(verb_cases);


static void
body_cases(void)
{
	char	 name[512];
	size_t	 i;

	for (i = 0; i < sizeof(bcases) / sizeof(bcases[0]); i++) {
		bcur = &bcases[i];
		snprintf(name, sizeof(name), "smtp_body_scan %s \"%s\"",
		    bcur->name, esc(bcur->s, bcur->len));
		run(name, t_body_case);
		snprintf(name, sizeof(name), "smtp_body_scan byte at a time "
		    "%s \"%s\"", bcur->name, esc(bcur->s, bcur->len));
		run(name, t_body_case_bytewise);
	}
}
UNIT_SUITE(body_cases);
