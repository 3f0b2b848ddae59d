/*
 * libFuzzer targets for every parser that sees remote bytes.  One file,
 * one target per build: cc -fsanitize=fuzzer -DFUZZ_<name>.
 *
 *   smtp     smtp_verb() against a literal transcription of qmail's
 *            commands(), and smtp_body_scan()'s fast path against a
 *            byte-at-a-time transcription of qmail-smtpd's blast(), fed
 *            in random pieces
 *   proxy    the STARTTLS state machine under random client bytes,
 *            server bytes and drains; its invariants are asserted
 *   control  the control-file readers
 *   certid   both certificate checks on arbitrary "PEM"
 *   reply    the SMTP client's reply reader and keyword check
 *   dns      DNS answer parsing (MX and A records)
 *   tlsa     DNS answers with TLSA records, into the set DANE uses, then
 *            matched against a real chain (FUZZ_CHAIN)
 *   sts      an MTA-STS policy server's HTTP response, the policy in it,
 *            and the input as a TXT record
 *   route    control/smtproutes: the host, a NUL, then the file
 *   received the head of a message: qmail-smtpd's Received field or not
 *   hello    a client's first TLS record: the server name it asks for
 *
 * Any assert() that fails, and anything a sanitizer sees, is a finding.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "smtp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#ifdef FUZZ_smtp
/* qmail's commands(): the verb and whether there is an argument */
static int
ref_verb(const char *line, size_t len, int *hasarg)
{
	static const char *names[] = { "helo", "ehlo", "mail", "rcpt", "data",
	    "quit", "starttls" };
	static const int verbs[] = { SMTP_HELO, SMTP_EHLO, SMTP_MAIL,
	    SMTP_RCPT, SMTP_DATA, SMTP_QUIT, SMTP_STARTTLS };
	char	*cmd, *arg;
	size_t	 i;
	int	 v = SMTP_OTHER;

	cmd = malloc(len + 1);
	memcpy(cmd, line, len);
	if (len > 0 && cmd[len - 1] == '\r')
		len--;
	cmd[len] = '\0';
	i = strcspn(cmd, " ");	/* stops at ' ' or at the (first) NUL */
	arg = cmd + i;
	if (*arg == ' ') {
		*arg++ = '\0';
		while (*arg == ' ')
			arg++;
	}
	*hasarg = *arg != '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(names[i], cmd) == 0)
			v = verbs[i];
	free(cmd);
	return v;
}

/* qmail-smtpd's blast(), byte at a time: the reference for the fast path */
static size_t
ref_body(int *state, const char *p, size_t len, int *end)
{
	size_t	 i;
	int	 c, s = *state;

	*end = SMTP_BODY_MORE;
	for (i = 0; i < len; i++) {
		c = (unsigned char)p[i];
		switch (s) {
		case 0: case 1: case 2:
			if (c == '\n') {
				*state = s;
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
				*state = 1;
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
	*state = s;
	return len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*p = (const char *)data;
	const char		*nl;
	struct smtp_body	 b;
	size_t			 off, n, m, len, piece;
	int			 ha, hb, e1, e2, rs = 1;

	/* every line as qmail would cut it */
	for (off = 0; off < size; off += len + 1) {
		nl = memchr(p + off, '\n', size - off);
		len = nl != NULL ? (size_t)(nl - (p + off)) : size - off;
		if (nl == NULL)
			break;
		assert(smtp_verb(p + off, len, 1, &ha) ==
		    ref_verb(p + off, len, &hb));
		assert(ha == hb);
	}
	/* the whole input as a message, in pieces sized by its own bytes */
	smtp_body_init(&b);
	for (off = 0; off < size; off += n) {
		piece = 1 + (size > 0 ? data[off] % 97 : 0);
		if (piece > size - off)
			piece = size - off;
		n = smtp_body_scan(&b, p + off, piece, &e1);
		m = ref_body(&rs, p + off, piece, &e2);
		assert(n == m && e1 == e2 && b.state == rs);
		if (e1 != SMTP_BODY_MORE)
			break;
	}
	return 0;
}
#endif

#ifdef FUZZ_proxy
#include "proxy.h"

#define SZ	4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 m[4][SZ];
	struct proxy	 px;
	struct buf	 in, tochild, chout, toclient;
	size_t		 i = 0, n, sent;
	int		 op, starttls = 0;

	if (size < 1)
		return 0;
	buf_init(&in, m[0], SZ);
	buf_init(&tochild, m[1], SZ);
	buf_init(&chout, m[2], SZ);
	buf_init(&toclient, m[3], SZ);
	proxy_init(&px, data[0] & (PROXY_TLS | PROXY_OFFER | PROXY_REQUIRE |
	    PROXY_TRANSPARENT));
	if (data[0] & 16)
		proxy_restart(&px);
	for (i = 1; i < size; i += n) {
		op = data[i++] % 4;
		n = i < size ? 1 + data[i] % 200 : 0;
		if (n > size - i)
			n = size - i;
		switch (op) {
		case 0:		/* client bytes */
			if (proxy_reading(&px) && buf_room(&in) >= n)
				buf_put(&in, data + i, n);
			break;
		case 1:		/* server bytes */
			if (proxy_listening(&px) && buf_room(&chout) >= n)
				buf_put(&chout, data + i, n);
			break;
		case 2:		/* the server reads */
			buf_drop(&tochild, n * 16);
			break;
		case 3:		/* the client reads */
			buf_drop(&toclient, n * 16);
			break;
		}
		sent = tochild.len;
		proxy_client(&px, &in, &tochild, &toclient);
		if (px.state == PROXY_TLSWANTED)	/* as the relay does */
			proxy_tlsready(&px, n % 2, &toclient);
		proxy_child(&px, &chout, &toclient);
		/* once STARTTLS is accepted, nothing more reaches the server */
		if (starttls)
			assert(tochild.len <= sent);
		if (px.state == PROXY_STARTTLS) {
			starttls = 1;
			assert(in.len == 0);
		}
		assert(px.ntags <= PROXY_MAXTAGS);
		assert(in.len <= SZ && tochild.len <= SZ && chout.len <= SZ &&
		    toclient.len <= SZ);
		assert(px.ehlolen <= sizeof(px.ehlo));
	}
	return 0;
}
#endif

#ifdef FUZZ_route
#include "route.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 host[256], relay[64];
	const uint8_t	*nul;
	size_t		 hlen;
	int		 port = 25, r;

	if ((nul = memchr(data, '\0', size)) == NULL)
		return 0;
	hlen = (size_t)(nul - data);
	if (hlen >= sizeof(host))
		return 0;
	memcpy(host, data, hlen);
	host[hlen] = '\0';
	memset(relay, 'x', sizeof(relay));
	r = route_find((const char *)nul + 1, size - hlen - 1, host, relay,
	    sizeof(relay), &port);
	assert(r == 0 || r == 1);
	if (r == 1)	/* "d::26" gives "", as qmail-remote has it */
		assert(memchr(relay, '\0', sizeof(relay)) != NULL);
	return 0;
}
#endif

#ifdef FUZZ_policy
#include "mxname.h"
#include "policy.h"
#include "tlsdest.h"

/*
 * control/tlsdestinations and MX names, both shaped by whoever wrote the
 * file or forged the answer: the input is "MXNAME\0file".  A line found
 * is either good or carries its error; the verdict for the MX under it
 * is one of the table's; what is no name is never allowed by a rule
 * with an mx= list, nor by verify.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct host_facts	 f = { 1, 1, 1, HOST_TLSA_USABLE };
	struct domain_rule		 r;
	struct tlsdest			 t;
	struct verdict			 v;
	char				 mx[300], name[MXNAME_MAX];
	const uint8_t			*nul;
	size_t				 mlen;

	if ((nul = memchr(data, '\0', size)) == NULL ||
	    (mlen = (size_t)(nul - data)) >= sizeof(mx))
		return 0;
	memcpy(mx, data, mlen);
	mx[mlen] = '\0';
	if (!tlsdest_find((const char *)nul + 1, size - mlen - 1,
	    "dest.example", &t))
		return 0;
	assert(t.error[0] != '\0' || t.level <= TLSDEST_DANE);
	assert(t.mxlen <= sizeof(t.mx) && t.line >= 1);
	if (t.error[0] != '\0')
		return 0;
	memset(&r, 0, sizeof(r));
	r.kind = RULE_LOCAL;
	r.domain = "dest.example";
	r.local = &t;
	policy_decide(&r, mx, &f, &v);
	assert(v.tls <= VERDICT_DANE);
	if (!mxname_normal(mx, name, sizeof(name)) && t.level != TLSDEST_NONE &&
	    (t.mxlen > 0 ||
	    t.level == TLSDEST_VERIFY))
		assert(v.tls == VERDICT_SKIP);
	if (t.level == TLSDEST_NONE)
		assert(v.tls == VERDICT_PLAIN);
	return 0;
}
#endif

#ifdef FUZZ_control
#include "control.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 dir[64];
	char		 line[256], path[128];
	long		 v;
	int		 fd;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/fuzz-control.%ld",
		    (long)getpid());
		mkdir(dir, 0700);
	}
	snprintf(path, sizeof(path), "%s/f", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	close(fd);
	if (control_readline(dir, "f", line, sizeof(line)) == 1)
		assert(strlen(line) < sizeof(line));
	(void)control_readint(dir, "f", &v);
	(void)control_hasline(dir, "f", "good@example.com");
	return 0;
}
#endif

#ifdef FUZZ_certid
#include "clientid.h"
#include "servercert.h"
#include "control.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct clientid_trust	 t;
	static int			 loaded;
	struct clientid			 id;
	const char			*ca = getenv("FUZZ_CA");
	char				 why[512];
	size_t				 i;

	if (!loaded) {		/* FUZZ_CA: the CA file, as clientca.pem */
		char	 dir[4096], *base;

		clientid_init(&t);
		snprintf(dir, sizeof(dir), "%s", ca != NULL ? ca : "/none");
		if ((base = strrchr(dir, '/')) != NULL) {
			*base++ = '\0';
			(void)control_readfile(dir, base, &t.ca.data,
			    &t.ca.len);
		}
		t.clients.data = strdup("# fuzz\ngood@example.com\n");
		t.clients.len = strlen(t.clients.data);
		loaded = 1;
	}
	clientid_check(&id, data, size, &t);
	(void)clientid_listed(&id, &t);
	assert(id.naddr <= CLIENTID_MAXADDR);
	for (i = 0; i < id.naddr; i++)
		assert(strchr(id.addr[i], '@') != NULL &&
		    strlen(id.addr[i]) < sizeof(id.addr[i]));
	assert(!id.verified || id.provided);
	(void)servercert_verify(data, size, ca != NULL ? ca : "/nonexistent",
	    "mx.example.org", SERVERCERT_NAME_SAN, why, sizeof(why));
	return 0;
}
#endif

#ifdef FUZZ_reply
#include "report.h"
#include "smtpc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtpc	 s;
	static int		 devnull = -1;
	int			 sv[2], code;

	if (devnull == -1) {
		/* report_*() write to fd 1 */
		devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
	}
	if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return 0;
	if (write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	smtpc_init(&s, sv[0], 1000);
	while ((code = smtpc_reply(&s)) != -1) {
		assert(code >= 100 && code <= 999);
		assert(s.textlen <= SMTPC_TEXTMAX);
		(void)smtpc_keyword(&s, "STARTTLS");
		report_text(s.text, s.textlen);
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}
#endif

#ifdef FUZZ_dns
/* the parser is static: take it in whole */
#include "../lib/dns.c"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_list	 l;
	static struct mxwalk	 w;
	struct ipwalk		 iw;

	if (size < sizeof(HEADER) || size > 8192)
		return 0;
	memset(&w, 0, sizeof(w));
	(void)walk(data, (int)size, T_MX, mx_rr, &w);
	assert(w.n <= DNS_MAXADDR);
	l.n = 0;
	iw.l = &l;
	iw.pref = 0;
	iw.host = "fuzz.example";
	iw.af = AF_INET;
	iw.secure = 1;
	(void)walk(data, (int)size, T_A, ip_rr, &iw);
	iw.af = AF_INET6;
	(void)walk(data, (int)size, T_AAAA, ip_rr, &iw);
	assert(l.n <= DNS_MAXADDR);
	return 0;
}
#endif

#ifdef FUZZ_tlsa
/* the parser is static: take it in whole */
#include "../lib/dns.c"

/*
 * A DNS answer (remote input) read as dns_tlsa() reads one: only usable
 * records may be kept, each whole, and matching them against the chain
 * in FUZZ_CHAIN (a PEM file made by tests/mkcerts.sh) must not crash.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tlsa_set	 set;
	static uint8_t		*chain;
	static size_t		 chainlen;
	const struct tlsa	*m;
	const char		*file = getenv("FUZZ_CHAIN");
	char			 why[512];
	size_t			 i;
	FILE			*f;

	if (chain == NULL && (chain = malloc(65536)) != NULL && file != NULL &&
	    (f = fopen(file, "r")) != NULL) {
		chainlen = fread(chain, 1, 65536, f);
		fclose(f);
	}
	if (size < sizeof(HEADER) || size > 65536)
		return 0;
	memset(&set, 0, sizeof(set));
	(void)walk(data, (int)size, DNS_T_TLSA, tlsa_rr, &set);
	assert(set.n <= TLSA_MAXRR);
	for (i = 0; i < set.n; i++) {
		assert(set.rr[i].usage == TLSA_DANE_TA ||
		    set.rr[i].usage == TLSA_DANE_EE);
		assert(set.rr[i].selector <= TLSA_SPKI);
		assert(set.rr[i].mtype != TLSA_SHA256 || set.rr[i].len == 32);
		assert(set.rr[i].mtype != TLSA_SHA512 || set.rr[i].len == 64);
		assert(set.rr[i].len > 0 && set.rr[i].len <= TLSA_MAXDATA);
	}
	if (dane_match(&set, chain, chainlen, "mail.example.net", &m, why,
	    sizeof(why)) == 0)
		assert(m >= set.rr && m < set.rr + set.n);
	else
		assert(m == NULL && why[0] != '\0');
	return 0;
}
#endif

#ifdef FUZZ_sts
#include "sts.h"

/*
 * What an MTA-STS policy host sends (remote input): the body must lie
 * inside the response and within the limit, a policy that parses must
 * be whole, and the TXT reader must keep its id within bounds.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sts_policy	 p;
	const char			*m;
	char				*resp, *body, why[256];
	char				 id[STS_IDMAX + 1];
	size_t				 bodylen, n;

	if (size > 2 * STS_BODYMAX || (resp = malloc(size + 1)) == NULL)
		return 0;
	memcpy(resp, data, size);
	if (sts_txt(resp, size, id, sizeof(id)) == 0)
		assert(strlen(id) >= 1 && strlen(id) <= STS_IDMAX);
	if (sts_http_body(resp, size, size % 2, &body, &bodylen, why,
	    sizeof(why)) == 0) {
		assert(body >= resp && body + bodylen <= resp + size);
		assert(bodylen <= STS_BODYMAX);
		if (sts_policy_parse(body, bodylen, &p, why, sizeof(why)) == 0) {
			assert(p.max_age >= 0 && p.max_age <= STS_MAXAGE);
			assert(p.nmx > 0 || p.mode == STS_MODE_NONE);
			assert(p.mxlen <= sizeof(p.mx));
			for (n = 0, m = sts_mx_next(&p, NULL); m != NULL;
			    m = sts_mx_next(&p, m), n++)
				assert(m[0] != '\0' && m + strlen(m) <
				    p.mx + p.mxlen);
			assert(n == p.nmx);
			(void)sts_mx_match(&p, "mx1.example.org");
			(void)sts_mx_match(&p, "example.org.");
		}
	}
	/* the input itself as a policy, as the cache file's tail is read */
	(void)sts_policy_parse((const char *)data, size, &p, why, sizeof(why));
	free(resp);
	return 0;
}
#endif

#ifdef FUZZ_received
#include "received.h"

/*
 * The head of a message (remote input: a client's HELO is in it): a
 * match must point at "SMTP; " inside the bytes given, a cut-off prefix
 * of a match must ask for more, and the protocol text must fit.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*s = (const char *)data;
	enum received_head	 r;
	size_t			 word = 0, wordlen = 0, w2, l2, n;
	const char		*end;
	char			 out[256];

	r = received_find(s, size, &word, &wordlen);
	assert(r == RECEIVED_MORE || r == RECEIVED_OTHER ||
	    r == RECEIVED_QMAIL);
	if (r == RECEIVED_QMAIL) {
		assert(wordlen == 4 && word + 6 <= size);
		assert(memcmp(s + word, "SMTP; ", 6) == 0);
		/* the field ends at the first newline after the word */
		end = memchr(s + word, '\n', size - word);
		assert(end != NULL);
		n = (size_t)(end - s) + 1;
		assert(received_find(s, n, &w2, &l2) == RECEIVED_QMAIL &&
		    w2 == word);
		assert(received_find(s, n - 1, &w2, &l2) == RECEIVED_MORE);
	}
	if (size > 0 && memchr(data, '\0', size) == data + size - 1)
		assert(received_protocol(out, sizeof(out), s, s, s) < 0 ||
		    strlen(out) < sizeof(out));
	return 0;
}
#endif

#ifdef FUZZ_hello
#include "clienthello.h"

/*
 * A client's first TLS record, read before the handshake: a name found
 * is a C string that fits; a cut-off record asks for more.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 name[256];
	enum clienthello_sni	 r;

	r = clienthello_servername(data, size, name, sizeof(name));
	assert(r == CLIENTHELLO_MORE || r == CLIENTHELLO_NONE || r == CLIENTHELLO_NAME);
	if (r == CLIENTHELLO_NAME)
		assert(strlen(name) > 0 && strlen(name) < sizeof(name));
	if (r == CLIENTHELLO_MORE)
		assert(size < CLIENTHELLO_RECORD_MAX);
	return 0;
}
#endif
