/*
 * The configuration check: every control file that TLS uses, read as a
 * session reads it, and judged with the same code where there is one
 * (tlsconf_keypair_check, tlsconf_servername, the cipher list given to
 * libtls).  One line per finding on standard output:
 *
 *	/var/qmail/control/servercert.pem: ok: EC 256-bit key, ...
 *
 * It only reads: it is safe to run on a live system, as the user that
 * the sessions run as (then it reads what they can read).  The exit
 * status says the worst finding: 100 when something breaks TLS or what
 * a file is for, else 111 when something could not be read, else 0.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <tls.h>

#include "chain.h"
#include "confcheck.h"
#include "control.h"
#include "text.h"
#include "tlsconf.h"

#define SOON_DAYS	14	/* an expiry this close is worth a warning */
#define NAMES_MAX	8	/* names shown for a certificate */

static int	entry_exists(struct confcheck *, const char *, const char *);

static const char *const levels[] = { "ok", "warning", "unchecked", "error" };

void
confcheck_init(struct confcheck *c, const char *dir)
{
	memset(c, 0, sizeof(*c));
	c->dir = dir;
}

/* One finding about file (relative to the control directory, or a path). */
static void
say(struct confcheck *c, const char *dir, const char *what,
    enum check_level level, const char *fmt, va_list ap)
{
	char	 text[1024];
	size_t	 i;

	vsnprintf(text, sizeof(text), fmt, ap);
	for (i = 0; text[i] != '\0'; i++)
		text[i] = (char)text_safe(text[i], TEXT_SPACE);
	printf("%s%s%s: %s: %s\n", dir, dir[0] != '\0' ? "/" : "", what,
	    levels[level], text);
	fflush(stdout);
	c->seen[level]++;
}

/* A finding about a control file (a relative name is in c->dir). */
void
confcheck_say(struct confcheck *c, const char *file, enum check_level level,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	say(c, file[0] == '/' ? "" : c->dir, file, level, fmt, ap);
	va_end(ap);
}

/* A finding about something else: a DNS name, a domain's policy. */
void
confcheck_note(struct confcheck *c, const char *what, enum check_level level,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	say(c, "", what, level, fmt, ap);
	va_end(ap);
}

int
confcheck_status(const struct confcheck *c)
{
	if (c->seen[CHECK_ERROR] > 0)
		return 100;
	if (c->seen[CHECK_UNCHECKED] > 0)
		return 111;
	return 0;
}

/*
 * A control file's bytes: 1, or 0 when it is not there (said, as an
 * error if it is required), or -1 when it cannot be read (said).
 */
static int
file_load(struct confcheck *c, const char *file, enum check_need need,
    uint8_t **mem, size_t *len)
{
	char	 path[PATH_MAX];

	if (control_path(path, sizeof(path), c->dir, file) == -1) {
		confcheck_say(c, file, CHECK_ERROR, "path too long");
		return -1;
	}
	if ((*mem = tls_load_file(path, len, NULL)) != NULL)
		return 1;
	if (errno == ENOENT) {
		if (need == CHECK_REQUIRED)
			confcheck_say(c, file, CHECK_ERROR, "missing: no TLS");
		return 0;
	}
	confcheck_say(c, file, errno == EACCES ? CHECK_UNCHECKED : CHECK_ERROR,
	    "unable to read: %s%s", strerror(errno), errno == EACCES ?
	    " (run -C as the user that reads it)" : "");
	return -1;
}


static void
subject(X509 *x, char *buf, size_t len)
{
	X509_NAME_oneline(X509_get_subject_name(x), buf, (int)len);
}

static int
self_signed(X509 *x)
{
	return X509_check_issued(x, x) == X509_V_OK;
}

/* The key of the certificate: its type and size, and whether weak. */
static void
key_facts(struct confcheck *c, const char *file, X509 *x, const char *match)
{
	EVP_PKEY	*key = X509_get0_pubkey(x);
	const char	*type = "unknown";
	int		 bits, weak;

	if (key == NULL) {
		confcheck_say(c, file, CHECK_ERROR, "its key cannot be read");
		return;
	}
	bits = EVP_PKEY_bits(key);
	switch (EVP_PKEY_base_id(key)) {
	case EVP_PKEY_RSA:
		type = "RSA";
		break;
	case EVP_PKEY_EC:
		type = "EC";
		break;
	case EVP_PKEY_ED25519:
		type = "Ed25519";
		break;
	}
	weak = (EVP_PKEY_base_id(key) == EVP_PKEY_RSA && bits < 2048) ||
	    (EVP_PKEY_base_id(key) == EVP_PKEY_EC && bits < 224);
	confcheck_say(c, file, weak ? CHECK_WARNING : CHECK_OK,
	    "%s %d-bit key, %s%s", type, bits, match, weak ? "; weak: use "
	    "RSA 2048 or EC 256 bits at least" : "");
}

/* A certificate's validity period, against now. */
static void
dates(struct confcheck *c, const char *file, X509 *x, const char *what)
{
	char	 when[64] = "";
	BIO	*bio;
	int	 days = 0, secs = 0, n;

	if ((bio = BIO_new(BIO_s_mem())) != NULL) {
		ASN1_TIME_print(bio, X509_get0_notAfter(x));
		n = BIO_read(bio, when, sizeof(when) - 1);
		when[n > 0 ? n : 0] = '\0';
		BIO_free(bio);
	}
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		confcheck_say(c, file, CHECK_ERROR, "%s is not valid yet", what);
		return;
	}
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) != 1) {
		confcheck_say(c, file, CHECK_ERROR, "%s: expiry unreadable",
		    what);
		return;
	}
	if (days < 0 || (days == 0 && secs < 0))
		confcheck_say(c, file, CHECK_ERROR, "%s expired %d days ago "
		    "(%s)", what, -days, when);
	else
		confcheck_say(c, file, days < SOON_DAYS ? CHECK_WARNING :
		    CHECK_OK, "%s expires in %d days (%s)", what, days, when);
}

/* The DNS names of a certificate (subjectAltName, else its CN). */
static void
names(X509 *x, char *out, size_t outlen)
{
	GENERAL_NAMES	*gens;
	GENERAL_NAME	*g;
	size_t		 n = 0;
	int		 i, shown = 0;

	out[0] = '\0';
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DNS)
			continue;
		if (shown++ == NAMES_MAX) {
			snprintf(out + n, outlen - n, ", ...");
			break;
		}
		snprintf(out + n, outlen - n, "%s%.*s", n > 0 ? ", " : "",
		    ASN1_STRING_length(g->d.dNSName),
		    (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		n = strlen(out);
	}
	GENERAL_NAMES_free(gens);
	if (shown == 0 && X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, out, (int)outlen) < 0)
		snprintf(out, outlen, "none");
}

static int
sha1_signed(X509 *x)
{
	int	 nid = X509_get_signature_nid(x);

	return nid == NID_sha1WithRSAEncryption || nid == NID_ecdsa_with_SHA1 ||
	    nid == NID_dsaWithSHA1 || nid == NID_sha1WithRSA;
}

/*
 * The chain as given: each certificate issued and signed by the next, up
 * to a self-signed root or the last one given; SHA-1 signatures.
 */
static void
chain(struct confcheck *c, const char *file, STACK_OF(X509) *certs)
{
	char	 name[256];
	X509	*x, *up;
	int	 i, n = sk_X509_num(certs), broken = 0;

	for (i = 0; i < n; i++) {
		x = sk_X509_value(certs, i);
		subject(x, name, sizeof(name));
		if (sha1_signed(x) && !self_signed(x))
			confcheck_say(c, file, CHECK_WARNING, "%s is signed "
			    "with SHA-1, which clients may refuse", name);
		if (i + 1 == n)
			break;
		up = sk_X509_value(certs, i + 1);
		if (X509_check_issued(up, x) != X509_V_OK ||
		    X509_verify(x, X509_get0_pubkey(up)) != 1) {
			confcheck_say(c, file, CHECK_ERROR, "chain broken: %s "
			    "is not issued by the certificate after it", name);
			broken = 1;
		}
	}
	ERR_clear_error();
	x = sk_X509_value(certs, n - 1);
	subject(x, name, sizeof(name));
	if (broken)
		return;
	if (n == 1 && !self_signed(x))
		confcheck_say(c, file, CHECK_WARNING, "no chain: only the "
		    "certificate itself; peers without its issuer cannot "
		    "verify it (append the intermediate certificates)");
	else
		confcheck_say(c, file, CHECK_OK, "chain of %d, in order, up "
		    "to %s%s", n, name, self_signed(x) ? " (self-signed)" :
		    "");
}

/*
 * A key pair file (servercert.pem, servercerts/<name>.pem,
 * clientcert.pem): the key, matching the first certificate, the names
 * (and that they cover name, if given), the dates, the chain.
 */
void
confcheck_keypair(struct confcheck *c, const char *file, const char *name,
    enum check_need need)
{
	STACK_OF(X509)	*certs = NULL;
	uint8_t		*mem;
	size_t		 len;
	char		 why[256], covered[1024];
	X509		*leaf;
	int		 r;

	if ((r = file_load(c, file, need, &mem, &len)) == 0 &&
	    need == CHECK_OPTIONAL)
		confcheck_say(c, file, CHECK_OK, "absent");
	if (r != 1)
		return;
	if (tlsconf_keypair_check(mem, len, why, sizeof(why)) == -1) {
		confcheck_say(c, file, CHECK_ERROR, "%s", why);
		goto done;
	}
	certs = chain_pem_certs(mem, len);
	leaf = sk_X509_value(certs, 0);
	key_facts(c, file, leaf, "belongs to the first certificate");
	names(leaf, covered, sizeof(covered));
	if (name != NULL && X509_check_host(leaf, name, 0, 0, NULL) != 1)
		confcheck_say(c, file, CHECK_WARNING, "names %s, not %s",
		    covered, name);
	else
		confcheck_say(c, file, CHECK_OK, "names %s", covered);
	dates(c, file, leaf, "the certificate");
	chain(c, file, certs);
 done:
	sk_X509_pop_free(certs, X509_free);
	tls_unload_file(mem, len);
}


/*
 * clientcrl.pem: with it, every CA needs a CRL of its own that it
 * signed and that is not past its next update, or no certificate under
 * that CA verifies.
 */
static void
crls_check(struct confcheck *c, STACK_OF(X509) *cas)
{
	STACK_OF(X509_CRL)	*crls;
	X509_CRL		*crl;
	uint8_t			*mem;
	size_t			 len;
	char			 name[256];
	int			 i, j, found;

	if (file_load(c, "clientcrl.pem", CHECK_OPTIONAL, &mem, &len) != 1)
		return;
	if ((crls = chain_pem_crls(mem, len)) == NULL) {
		confcheck_say(c, "clientcrl.pem", CHECK_ERROR, "holds no CRL: "
		    "no client certificate verifies");
		tls_unload_file(mem, len);
		return;
	}
	for (i = 0; i < sk_X509_num(cas); i++) {
		X509 *ca = sk_X509_value(cas, i);

		subject(ca, name, sizeof(name));
		for (found = 0, j = 0; !found && j < sk_X509_CRL_num(crls); j++) {
			crl = sk_X509_CRL_value(crls, j);
			found = X509_NAME_cmp(X509_CRL_get_issuer(crl),
			    X509_get_subject_name(ca)) == 0 &&
			    X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1;
		}
		if (!found)
			confcheck_say(c, "clientcrl.pem", CHECK_ERROR, "no CRL "
			    "signed by %s: its clients' certificates do not "
			    "verify", name);
		else if (X509_CRL_get0_nextUpdate(crl) != NULL &&
		    X509_cmp_current_time(X509_CRL_get0_nextUpdate(crl)) < 0)
			confcheck_say(c, "clientcrl.pem", CHECK_ERROR, "the CRL "
			    "of %s is past its next update: its clients' "
			    "certificates do not verify", name);
		else
			confcheck_say(c, "clientcrl.pem", CHECK_OK, "a current "
			    "CRL for %s", name);
	}
	ERR_clear_error();
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	tls_unload_file(mem, len);
}

/* clientca.pem (and clientcrl.pem): the CAs whose clients may relay. */
void
confcheck_clientca(struct confcheck *c)
{
	STACK_OF(X509)	*cas;
	uint8_t		*mem;
	size_t		 len;
	char		 name[256];
	int		 i, r;

	if ((r = file_load(c, "clientca.pem", CHECK_OPTIONAL, &mem,
	    &len)) == 0)
		confcheck_say(c, "clientca.pem", CHECK_OK, "absent: clients "
		    "are not asked for certificates");
	if (r != 1)
		return;
	if ((cas = chain_pem_certs(mem, len)) == NULL) {
		confcheck_say(c, "clientca.pem", CHECK_ERROR, "holds no "
		    "certificate: no client certificate verifies");
		tls_unload_file(mem, len);
		return;
	}
	confcheck_say(c, "clientca.pem", CHECK_OK, "%d CA certificate%s",
	    sk_X509_num(cas), sk_X509_num(cas) == 1 ? "" : "s");
	for (i = 0; i < sk_X509_num(cas); i++) {
		X509 *x = sk_X509_value(cas, i);

		subject(x, name, sizeof(name));
		if (X509_check_ca(x) == 0)
			confcheck_say(c, "clientca.pem", CHECK_WARNING, "%s is "
			    "not a CA certificate", name);
		dates(c, "clientca.pem", x, name);
	}
	crls_check(c, cas);
	sk_X509_pop_free(cas, X509_free);
	tls_unload_file(mem, len);
}

/* Could this tlsclients line be an e-mail address? */
static int
address_like(const char *s)
{
	const char	*at = strrchr(s, '@');
	size_t		 i;

	if (at == NULL || at == s || at[1] == '\0' || strstr(at, "..") ||
	    at[1] == '.' || s[strlen(s) - 1] == '.')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= ' ' || strchr("<>()[],;\\\"",
		    s[i]) != NULL || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* Was line listed before, in any case? */
static int
listed_before(char **lines, int n, const char *line)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (strcasecmp(lines[i], line) == 0)
			return 1;
	return 0;
}

/* tlsclients: one address per line, compared without regard to case. */
void
confcheck_tlsclients(struct confcheck *c)
{
	uint8_t		*mem;
	size_t		 len;
	char		*p, *line, *next, **lines = NULL;
	int		 n = 0, lineno = 0;

	if (file_load(c, "tlsclients", CHECK_OPTIONAL, &mem, &len) != 1)
		return;
	if ((p = malloc(len + 1)) == NULL ||
	    (lines = calloc(len / 2 + 1, sizeof(*lines))) == NULL) {
		confcheck_say(c, "tlsclients", CHECK_UNCHECKED, "out of memory");
		free(p);
		tls_unload_file(mem, len);
		return;
	}
	memcpy(p, mem, len);
	p[len] = '\0';
	for (line = p; line != NULL && *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		if (*line == '\0')
			continue;
		if (!address_like(line))
			confcheck_say(c, "tlsclients", CHECK_WARNING, "line %d: "
			    "\"%s\" is not an e-mail address: it matches no "
			    "certificate", lineno, line);
		else if (listed_before(lines, n, line))
			confcheck_say(c, "tlsclients", CHECK_WARNING, "line %d: "
			    "%s is listed twice", lineno, line);
		else
			lines[n++] = line;
	}
	confcheck_say(c, "tlsclients", CHECK_OK, "%d address%s", n,
	    n == 1 ? "" : "es");
	if (!entry_exists(c, ".", "clientca.pem"))
		confcheck_say(c, "tlsclients", CHECK_WARNING, "not used: there "
		    "is no clientca.pem, so no client is asked for a "
		    "certificate");
	free(lines);
	free(p);
	tls_unload_file(mem, len);
}

/*
 * A cipher list (tlsserverciphers, tlsclientciphers; or the environment
 * variable envname, which overrides the file where it is set): does
 * libtls take it?
 */
void
confcheck_ciphers(struct confcheck *c, const char *file, const char *envname)
{
	struct tls_config	*cfg;
	const char		*env = envname != NULL ? getenv(envname) : NULL;
	char			*list = NULL;

	if (tlsconf_ciphers(env, c->dir, file, &list) == -1) {
		confcheck_say(c, file, errno == EACCES ? CHECK_UNCHECKED :
		    CHECK_ERROR, "unable to read: %s", strerror(errno));
		return;
	}
	if (list == NULL)
		return;		/* the default list */
	if ((cfg = tls_config_new()) == NULL)
		confcheck_say(c, file, CHECK_UNCHECKED, "unable to set up "
		    "TLS: %s", strerror(errno));
	else if (tls_config_set_ciphers(cfg, list) == -1)
		confcheck_say(c, file, CHECK_ERROR, "%s%s is refused: %s",
		    env != NULL && *env != '\0' ? "$" : "",
		    env != NULL && *env != '\0' ? envname : "the list",
		    tls_config_error(cfg));
	else
		confcheck_say(c, file, CHECK_OK, "%s%s is accepted: %s",
		    env != NULL && *env != '\0' ? "$" : "",
		    env != NULL && *env != '\0' ? envname : "the list", list);
	tls_config_free(cfg);
	free(list);
}

/* tlshosts/<host>.pem: certificates to verify that host's against. */
static void
tlshost_pem(struct confcheck *c, const char *file)
{
	STACK_OF(X509)	*certs;
	uint8_t		*mem;
	size_t		 len;
	char		 name[256];
	int		 i;

	if (file_load(c, file, CHECK_REQUIRED, &mem, &len) != 1)
		return;
	if ((certs = chain_pem_certs(mem, len)) == NULL)
		confcheck_say(c, file, CHECK_ERROR, "holds no certificate: "
		    "every delivery to that host is deferred");
	for (i = 0; certs != NULL && i < sk_X509_num(certs); i++) {
		subject(sk_X509_value(certs, i), name, sizeof(name));
		dates(c, file, sk_X509_value(certs, i), name);
	}
	sk_X509_pop_free(certs, X509_free);
	tls_unload_file(mem, len);
}

/*
 * A CA bundle outside the control directory (MTA-STS's), named by the
 * control file file: how many certificates it holds.
 */
void
confcheck_cafile(struct confcheck *c, const char *file, const char *path)
{
	STACK_OF(X509)	*certs;
	uint8_t		*mem;
	size_t		 len;

	if ((mem = tls_load_file(path, &len, NULL)) == NULL) {
		confcheck_say(c, file, errno == EACCES ? CHECK_UNCHECKED :
		    CHECK_ERROR, "unable to read %s: %s", path,
		    strerror(errno));
		return;
	}
	if ((certs = chain_pem_certs(mem, len)) == NULL)
		confcheck_say(c, file, CHECK_ERROR, "%s holds no certificate",
		    path);
	else
		confcheck_say(c, file, CHECK_OK, "%s: %d CA certificates", path,
		    sk_X509_num(certs));
	sk_X509_pop_free(certs, X509_free);
	tls_unload_file(mem, len);
}

/* Does control/sub/entry exist? */
static int
entry_exists(struct confcheck *c, const char *sub, const char *entry)
{
	char		 path[PATH_MAX];
	struct stat	 st;

	return snprintf(path, sizeof(path), "%s/%s/%s", c->dir, sub, entry) <
	    (int)sizeof(path) && stat(path, &st) == 0;
}

/* Each entry of control/sub, to fn; 0, or -1 when sub is unreadable. */
int
confcheck_entries(struct confcheck *c, const char *sub,
    void (*fn)(struct confcheck *, const char *, const char *))
{
	char		 path[PATH_MAX], file[PATH_MAX];
	struct dirent	**de;
	int		 i, n;

	if (control_path(path, sizeof(path), c->dir, sub) == -1 ||
	    (n = scandir(path, &de, NULL, alphasort)) == -1) {
		if (errno != ENOENT)
			confcheck_say(c, sub, CHECK_UNCHECKED, "unable to "
			    "read: %s", strerror(errno));
		return errno == ENOENT ? 0 : -1;
	}
	for (i = 0; i < n; i++) {
		if (de[i]->d_name[0] != '.') {
			snprintf(file, sizeof(file), "%s/%s", sub,
			    de[i]->d_name);
			fn(c, file, de[i]->d_name);
		}
		free(de[i]);
	}
	free(de);
	return 0;
}

static void
tlshosts_entry(struct confcheck *c, const char *file, const char *entry)
{
	size_t	 n = strlen(entry);

	if (strcmp(entry, "exhaustivelist") == 0)
		confcheck_say(c, file, CHECK_OK, "only hosts with a "
		    "tlshosts/<host>.pem get STARTTLS");
	else if (n > 4 && strcmp(entry + n - 4, ".pem") == 0)
		tlshost_pem(c, file);
	else
		confcheck_say(c, file, CHECK_WARNING, "ignored: not "
		    "<host>.pem");
}

static void
notlshosts_entry(struct confcheck *c, const char *file, const char *entry)
{
	char	 pem[PATH_MAX];

	snprintf(pem, sizeof(pem), "%s.pem", entry);
	if (entry_exists(c, "tlshosts", pem))
		confcheck_say(c, file, CHECK_WARNING, "tlshosts/%s wins: TLS "
		    "is required there", pem);
	else
		confcheck_say(c, file, CHECK_OK, "no STARTTLS to %s", entry);
}

static void
servercerts_entry(struct confcheck *c, const char *file, const char *entry)
{
	char	 name[TLSCONF_NAME_MAX + 1];
	size_t	 n = strlen(entry);

	if (n <= 4 || strcmp(entry + n - 4, ".pem") != 0 ||
	    n - 4 > TLSCONF_NAME_MAX) {
		confcheck_say(c, file, CHECK_WARNING, "ignored: not <server "
		    "name>.pem");
		return;
	}
	memcpy(name, entry, n - 4);
	name[n - 4] = '\0';
	if (!tlsconf_servername(name, name, sizeof(name)))
		confcheck_say(c, file, CHECK_WARNING, "ignored: not <server "
		    "name>.pem");
	else
		confcheck_keypair(c, file, name, CHECK_REQUIRED);
}

/* servercerts/<name>.pem: each as servercert.pem, for its name. */
void
confcheck_servercerts(struct confcheck *c)
{
	confcheck_entries(c, "servercerts", servercerts_entry);
}

/* starttls-remote's policy per host: tlshosts/ and notlshosts/. */
void
confcheck_tlshosts(struct confcheck *c)
{
	confcheck_entries(c, "tlshosts", tlshosts_entry);
	confcheck_entries(c, "notlshosts", notlshosts_entry);
}
