/*
 * Unit tests: the outbound TLS precedence table (lib/remote/policy.c),
 * walked whole: every destination rule, every combination of host-level
 * facts, and every shape an MX name can take in a forged answer; and
 * the pieces it stands on, MX names (mxname.c) and tlsdestinations lines
 * (tlsdest.c).  The table here is the one starttls(7) prints.
 */
#include "unit.h"

#include "mxname.h"
#include "policy.h"
#include "sts.h"
#include "tlsdest.h"

/* The destination rules, the rows of the table */
enum row {
	R_NONE, R_TESTING, R_ENFORCE, R_LOCAL_NONE, R_LOCAL_MAY,
	R_LOCAL_ENCRYPT, R_LOCAL_VERIFY, R_LOCAL_VERIFY_MX, R_LOCAL_DANE,
	NROWS
};

static const char *const row_names[NROWS] = {
	"no rule", "MTA-STS testing", "MTA-STS enforce", "local none",
	"local may", "local encrypt", "local verify", "local verify mx=",
	"local dane"
};

/* The host-level facts, the columns */
static const struct host_facts columns[] = {
	{ 0, 0, 0, HOST_TLSA_UNKNOWN },		/* nothing */
	{ 1, 0, 0, HOST_TLSA_UNKNOWN },		/* tlshosts/H.pem */
	{ 0, 1, 0, HOST_TLSA_UNKNOWN },		/* notlshosts/H */
	{ 1, 1, 0, HOST_TLSA_UNKNOWN },		/* both */
	{ 0, 0, 1, HOST_TLSA_UNKNOWN },		/* exhaustivelist, no pem */
	{ 0, 0, 0, HOST_TLSA_USABLE },
	{ 0, 0, 0, HOST_TLSA_UNUSABLE },
	{ 0, 0, 0, HOST_TLSA_FAILED },
	{ 1, 0, 0, HOST_TLSA_USABLE },		/* usable TLSA and a pem */
	{ 0, 1, 0, HOST_TLSA_USABLE },		/* usable TLSA, notlshosts */
	{ 0, 0, 1, HOST_TLSA_NONE }		/* validated: no TLSA */
};
#define NCOLS	(sizeof(columns) / sizeof(columns[0]))

/*
 * The verdicts, two letters each: what, then who decided.
 *   what: s skip, p plaintext, m may, e encrypt, c CA file, k pem, d DANE
 *   who:  D default, L tlsdestinations, S MTA-STS, K pem, N notlshosts,
 *         X exhaustivelist, T TLSA
 * then "+" (MTA-STS testing, a listed MX) or "-" (testing, not listed).
 *
 *                  nothing pem notls both exh usable unusable failed
 *                  usable+pem usable+notls none+exh
 */
static const char *const listed[NROWS] = {
	"mD  kK  pN  kK  pX  dT  eT  sT  kK  pN  pX",
	"mD+ kK+ pN+ kK+ pX+ dT+ eT+ sT+ kK+ pN+ pX+",
	"cS  kK  cS  kK  cS  dT  cS  sT  kK  dT  cS",
	"pL  pL  pL  pL  pL  pL  pL  pL  pL  pL  pL",
	"mL  kK  pN  kK  pX  dT  eT  sT  kK  pN  pX",
	"eL  kK  eL  kK  eL  dT  eT  sT  kK  dT  eL",
	"cL  kK  cL  kK  cL  dT  cL  sT  kK  dT  cL",
	"cL  kK  cL  kK  cL  dT  cL  sT  kK  dT  cL",
	"sL  sL  sL  sL  sL  dT  sL  sT  dT  dT  sL"
};

/* another name in the destination's domain, not in any list */
static const char *const sibling[NROWS] = {
	"mD  kK  pN  kK  pX  dT  eT  sT  kK  pN  pX",
	"mD- kK- pN- kK- pX- dT- eT- sT- kK- pN- pX-",
	"sS  sS  sS  sS  sS  dT  sS  sS  dT  dT  sS",
	"pL  pL  pL  pL  pL  pL  pL  pL  pL  pL  pL",
	"mL  kK  pN  kK  pX  dT  eT  sT  kK  pN  pX",
	"eL  kK  eL  kK  eL  dT  eT  sT  kK  dT  eL",
	"cL  kK  cL  kK  cL  dT  cL  sT  kK  dT  cL",
	"sL  sL  sL  sL  sL  sL  sL  sL  sL  sL  sL",
	"sL  sL  sL  sL  sL  dT  sL  sT  dT  dT  sL"
};

/* a name the attacker chose, outside the domain */
static const char *const stranger[NROWS] = {
	"mD  kK  pN  kK  pX  dT  eT  sT  kK  pN  pX",
	"mD- kK- pN- kK- pX- dT- eT- sT- kK- pN- pX-",
	"sS  sS  sS  sS  sS  dT  sS  sS  dT  dT  sS",
	"pL  pL  pL  pL  pL  pL  pL  pL  pL  pL  pL",
	"mL  kK  pN  kK  pX  dT  eT  sT  kK  pN  pX",
	"eL  kK  eL  kK  eL  dT  eT  sT  kK  dT  eL",
	"sL  sL  sL  sL  sL  sL  sL  sL  sL  sL  sL",
	"sL  sL  sL  sL  sL  sL  sL  sL  sL  sL  sL",
	"sL  sL  sL  sL  sL  dT  sL  sT  dT  dT  sL"
};

/* what is no name: no file, no TLSA counts, whatever the facts say */
static const char *const noname[NROWS] = {
	"mD", "mD-", "sS", "pL", "mL", "eL", "sL", "sL", "sL"
};

/* The MX names of each shape */
static const char *const listed_names[] = {
	"mx.dest.example", "MX.Dest.EXAMPLE", "mx.dest.example."
};
static const char *const sibling_names[] = {
	"other.dest.example", "a.b.Dest.Example."
};
static const char *const stranger_names[] = {
	"mx.attacker.example", "dest.example.attacker.example",
	"xdest.example", "mx.dest.example.evil"
};
static const char *const noname_names[] = {
	"192.0.2.5", "[192.0.2.5]", "[IPv6:2001:db8::1]", "2001:db8::1",
	"evil/mx.dest.example", "mx..dest.example", ".mx.dest.example",
	"mx.dest.example..", "mx dest.example", "mx.dest.example\n",
	"1.2.3.4.5", "mx.dest.123", "", "."
};

static const char *
verdict_code(const struct verdict *v, char *buf)
{
	static const char	 what[] = "spmeckd", who[] = "DLSKNXT";

	buf[0] = what[v->tls];
	buf[1] = who[v->by];
	buf[2] = !v->testing ? '\0' : v->listed ? '+' : '-';
	buf[3] = '\0';
	return buf;
}

/* The rule of row, over fixed local lines and policies. */
static void
rule_of(enum row row, struct domain_rule *r)
{
	static struct sts_policy	 sts;
	static struct tlsdest		 local[NROWS];
	static const char *const	 lines[NROWS] = {
		[R_LOCAL_NONE] = "dest.example:none",
		[R_LOCAL_MAY] = "dest.example:may",
		[R_LOCAL_ENCRYPT] = "dest.example:encrypt",
		[R_LOCAL_VERIFY] = "dest.example:verify",
		[R_LOCAL_VERIFY_MX] = "dest.example:verify mx=mx.dest.example",
		[R_LOCAL_DANE] = "dest.example:dane"
	};
	static const char	 policy[] = "version: STSv1\nmode: enforce\n"
	    "mx: mx.dest.example\nmax_age: 86400\n";
	char			 reason[128];

	memset(r, 0, sizeof(*r));
	r->domain = "dest.example";
	if (lines[row] != NULL) {
		if (tlsdest_parse(lines[row], strlen(lines[row]),
		    &local[row]) != 0)
			abort();
		r->kind = RULE_LOCAL;
		r->local = &local[row];
	} else if (row == R_TESTING || row == R_ENFORCE) {
		if (sts_policy_parse(policy, sizeof(policy) - 1, &sts, reason,
		    sizeof(reason)) != 0)
			abort();
		r->kind = row == R_ENFORCE ? RULE_STS_ENFORCE :
		    RULE_STS_TESTING;
		r->sts = &sts;
	}
}

/* The case run() runs: one shape of name and one row, all columns */
static struct {
	const char		*const *names;
	size_t			 nnames;
	const char		*verdicts;	/* the row's, from a table */
	int			 each_column;	/* a verdict per column */
	enum row		 row;
} cur;

static void
t_policy_case(void)
{
	struct domain_rule	 r;
	struct verdict		 v;
	char			 got[4], want[4];
	const char		*p;
	size_t			 i, c;

	rule_of(cur.row, &r);
	for (i = 0; i < cur.nnames; i++)
		for (c = 0, p = cur.verdicts; c < NCOLS; c++) {
			if (sscanf(p, "%3s", want) != 1)
				abort();	/* a short row in the table */
			if (cur.each_column)
				p += strcspn(p, " "), p += strspn(p, " ");
			policy_decide(&r, cur.names[i], &columns[c], &v);
			if (strcmp(verdict_code(&v, got), want) != 0) {
				FAIL("MX \"%s\", facts column %zu: %s, "
				    "expected %s", esc(cur.names[i],
				    strlen(cur.names[i])), c, got, want);
				return;
			}
		}
}

/* One shape: its names under every row of its table. */
static void
walk(const char *shape, const char *const *names, size_t nnames,
    const char *const *table, int each_column)
{
	char	 name[160];
	int	 row;

	for (row = 0; row < NROWS; row++) {
		cur.names = names;
		cur.nnames = nnames;
		cur.verdicts = table[row];
		cur.each_column = each_column;
		cur.row = row;
		snprintf(name, sizeof(name), "policy table: %s, %s", shape,
		    row_names[row]);
		run(name, t_policy_case);
	}
}

#define WALK(shape, names, table, each) \
	walk((shape), (names), sizeof(names) / sizeof(names[0]), (table), (each))

static void
t_policy_table(void)
{
	WALK("a listed MX", listed_names, listed, 1);
	WALK("another MX in the domain", sibling_names, sibling, 1);
	WALK("an MX outside the domain", stranger_names, stranger, 1);
	WALK("an MX that is no name", noname_names, noname, 0);
}
UNIT_SUITE(t_policy_table);

static void
t_mxname(void)
{
	char	 n[MXNAME_MAX], p[MXNAME_MAX + 2];

	CHECK_INT(mxname_normal("MX1.Example.COM.", n, sizeof(n)), 1);
	CHECK_STR(n, "mx1.example.com");
	CHECK_INT(mxname_normal("_x-1.example", n, sizeof(n)), 1);
	CHECK_INT(mxname_normal("192.0.2.1", n, sizeof(n)), 0);
	CHECK_INT(mxname_normal("[192.0.2.1]", n, sizeof(n)), 0);
	CHECK_INT(mxname_normal("a/b.example", n, sizeof(n)), 0);
	CHECK_INT(mxname_normal("a..example", n, sizeof(n)), 0);
	CHECK_INT(mxname_normal("example..", n, sizeof(n)), 0);
	CHECK_INT(mxname_normal("1.2.3.4.5", n, sizeof(n)), 0);
	CHECK_INT(mxname_normal("a.b1", n, sizeof(n)), 1);
	CHECK_INT(mxname_normal(
	    "a234567890123456789012345678901234567890123456789012345678901234"
	    ".example", n, sizeof(n)), 0);		/* a 64-byte label */
	CHECK_INT(mxname_pattern("*.Example.com", 13, p, sizeof(p)), 1);
	CHECK_STR(p, "*.example.com");
	CHECK_INT(mxname_pattern(".example.com", 12, p, sizeof(p)), 1);
	CHECK_INT(mxname_pattern("m*.example.com", 14, p, sizeof(p)), 0);
	CHECK_INT(mxname_pattern("*.*.example.com", 15, p, sizeof(p)), 0);
	CHECK_INT(mxname_pattern("*.", 2, p, sizeof(p)), 0);
	CHECK_INT(mxname_pattern("192.0.2.1", 9, p, sizeof(p)), 0);
	CHECK_INT(mxname_match("*.example.com", "mx.example.com"), 1);
	CHECK_INT(mxname_match("*.example.com", "a.mx.example.com"), 0);
	CHECK_INT(mxname_match("*.example.com", "example.com"), 0);
	CHECK_INT(mxname_match(".example.com", "a.mx.example.com"), 1);
	CHECK_INT(mxname_match(".example.com", "example.com"), 0);
	CHECK_INT(mxname_match(".example.com", "xexample.com"), 0);
	CHECK_INT(mxname_match("mx.example.com", "mx.example.com"), 1);
}
UNIT(t_mxname, "mxname: what is a name, patterns, matching");

static int
dest(const char *text, const char *domain, struct tlsdest *t)
{
	return tlsdest_find(text, strlen(text), domain, t);
}

static void
t_tlsdest(void)
{
	static const char	 file[] =
	    "# partners\n"
	    "partner.example:verify\n"
	    ".partner.example:encrypt\n"
	    "bank.example:verify ca=control/bank-ca.pem "
	    "mx=mx1.bank.example,*.mail.bank.example\n"
	    "!legacy.example:\n"
	    "old.example:\n"
	    "sq.example:/etc/ssl/sq.pem|HIGH|3\n"
	    "=eq.example:control/eq.pem\n"
	    "port.example:/etc/ssl/x.pem|||;465\n"
	    "~tilde.example:\n"
	    "typo.example:verfy\n"
	    "caenc.example:encrypt ca=x.pem\n"
	    "[192.0.2.7]:dane\n"
	    "bad dest:verify\n"
	    "*:\n";
	struct tlsdest		 t;

	CHECK_INT(dest(file, "Partner.Example.", &t), 1);
	CHECK_INT(t.level, TLSDEST_VERIFY);
	CHECK_INT(t.line, 2);
	CHECK_STR(t.cafile, "");
	CHECK_INT(tlsdest_allows(&t, "partner.example", "mx.partner.example"),
	    1);
	CHECK_INT(tlsdest_allows(&t, "partner.example", "partner.example"), 1);
	CHECK_INT(tlsdest_allows(&t, "partner.example", "mx.attacker.example"),
	    0);
	CHECK_INT(tlsdest_allows(&t, "partner.example", NULL), 0);
	CHECK_INT(dest(file, "eu.partner.example", &t), 1);	/* below it */
	CHECK_INT(t.level, TLSDEST_ENCRYPT);
	CHECK_INT(tlsdest_allows(&t, "eu.partner.example", NULL), 1);
	CHECK_INT(dest(file, "bank.example", &t), 1);
	CHECK_STR(t.cafile, "control/bank-ca.pem");
	CHECK_INT(tlsdest_allows(&t, "bank.example", "mx1.bank.example"), 1);
	CHECK_INT(tlsdest_allows(&t, "bank.example", "x.mail.bank.example"),
	    1);
	CHECK_INT(tlsdest_allows(&t, "bank.example", "mx2.bank.example"), 0);
	CHECK_INT(dest(file, "legacy.example", &t), 1);		/* s/qmail's ! */
	CHECK_INT(t.level, TLSDEST_NONE);
	CHECK_INT(dest(file, "old.example", &t), 1);	/* "dest:": required */
	CHECK_INT(t.level, TLSDEST_ENCRYPT);
	CHECK_INT(dest(file, "sq.example", &t), 1);	/* "dest:cafile|..." */
	CHECK_INT(t.level, TLSDEST_VERIFY);
	CHECK_STR(t.cafile, "/etc/ssl/sq.pem");
	CHECK_INT(dest(file, "eq.example", &t), 1);
	CHECK_STR(t.cafile, "control/eq.pem");
	CHECK_INT(dest(file, "port.example", &t), 1);	/* kept, with why */
	CHECK(t.error[0] != '\0');
	CHECK_INT(dest(file, "tilde.example", &t), 1);
	CHECK_STR(t.error, "s/qmail's ~ rules are not supported");
	CHECK_INT(dest(file, "typo.example", &t), 1);
	CHECK_STR(t.error, "unknown rule verfy");
	CHECK_INT(dest(file, "caenc.example", &t), 1);
	CHECK_STR(t.error, "ca= goes with verify only");
	CHECK_INT(dest(file, "[192.0.2.7]", &t), 1);
	CHECK_INT(t.level, TLSDEST_DANE);
	CHECK_INT(dest(file, "elsewhere.example", &t), 1);	/* "*:" */
	CHECK_INT(t.level, TLSDEST_MAY);
	CHECK_INT(t.line, 15);
	CHECK_INT(dest("partner.example:verify\n", "example", &t), 0);
	CHECK_INT(dest("", "partner.example", &t), 0);
}
UNIT(t_tlsdest, "tlsdestinations: most specific line, s/qmail forms, errors");
