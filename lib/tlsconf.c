/*
 * TLS configuration read from the qmail control directory, with the
 * meanings of Frederik Vermeulen's qmail-tls patch:
 *
 *   servercert.pem	private key and certificate chain in one file; the
 *			key may come first and text between the PEM blocks
 *			is ignored
 *   clientca.pem	when present, clients are asked for a certificate
 *			(see clientid.c for how it is judged)
 *   tlsserverciphers	OpenSSL cipher list, lines joined with ':';
 *			without it, ECDHE with AES-GCM or ChaCha20 only
 *   servercerts/<name>.pem
 *			the same as servercert.pem, for a client that asks
 *			for <name> by SNI (ours: the patch has one key)
 *
 * and for the client half (starttls-remote; which hosts get TLS is
 * remote/policy.c's business):
 *
 *   clientcert.pem	key and certificate presented when a server asks
 *   tlsclientciphers	OpenSSL cipher list, lines joined with ':'
 *
 * The files are read afresh by every session, so a renewed certificate
 * takes effect with the next connection, without a restart.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <tls.h>

#include "chain.h"
#include "control.h"
#include "tlsconf.h"

#define TLSCONF_SERVERCIPHERS	"ECDHE+AESGCM:ECDHE+CHACHA20"

static const uint8_t *
find(const uint8_t *p, const uint8_t *end, const char *s)
{
	size_t	 n = strlen(s);

	for (; (size_t)(end - p) >= n &&
	    (p = memchr(p, s[0], end - p - n + 1)) != NULL; p++)
		if (memcmp(p, s, n) == 0)
			return p;
	return NULL;
}

/*
 * The certificate blocks of a combined PEM file (servercert.pem,
 * clientcert.pem hold the key too), as a malloc'd copy.  libtls keeps
 * what it is given as the certificate for the life of the context, and
 * wipes only what it is given as the key: so it must not be given the
 * key twice.
 */
static uint8_t *
pem_certs(const uint8_t *pem, size_t len, size_t *outlen)
{
	static const char	 begin[] = "-----BEGIN CERTIFICATE-----";
	static const char	 end[] = "-----END CERTIFICATE-----";
	const uint8_t		*p = pem, *b, *e, *stop = pem + len;
	uint8_t			*out;
	size_t			 n = 0;

	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	while ((b = find(p, stop, begin)) != NULL &&
	    (e = find(b, stop, end)) != NULL) {
		e += sizeof(end) - 1;
		memcpy(out + n, b, e - b);
		n += e - b;
		out[n++] = '\n';
		p = e;
	}
	*outlen = n;
	return out;
}

/* An encrypted key is refused here, never asked about on a terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return -1;
}

/*
 * The first private key block of a PEM file: its start, whether it is
 * encrypted (PKCS#8 "ENCRYPTED PRIVATE KEY", or a traditional key with
 * "Proc-Type: 4,ENCRYPTED"), or NULL when there is none.
 */
static const uint8_t *
pem_key(const uint8_t *pem, const uint8_t *stop, int *encrypted)
{
	const uint8_t	*b, *label, *dashes, *end;

	for (b = pem; (b = find(b, stop, "-----BEGIN ")) != NULL; b++) {
		label = b + strlen("-----BEGIN ");
		if ((dashes = find(label, stop, "-----")) == NULL)
			return NULL;
		if (dashes - label < 11 ||
		    memcmp(dashes - 11, "PRIVATE KEY", 11) != 0)
			continue;
		if ((end = find(dashes, stop, "-----END ")) == NULL)
			end = stop;
		*encrypted = (dashes - label == 21 &&
		    memcmp(label, "ENCRYPTED", 9) == 0) ||
		    find(dashes, end, "Proc-Type: 4,ENCRYPTED") != NULL;
		return b;
	}
	return NULL;
}

/*
 * Does this combined PEM file look like a key pair, by its PEM blocks
 * alone (nothing parsed: no TLS library is touched)?  0, or -1 with the
 * reason in why.
 */
static int
keypair_shape(const uint8_t *pem, size_t len, char *why, size_t whylen)
{
	const uint8_t	*stop = pem + len;
	int		 encrypted = 0;

	if (pem_key(pem, stop, &encrypted) == NULL)
		snprintf(why, whylen, "it holds no private key");
	else if (encrypted)
		snprintf(why, whylen, "its private key is encrypted (has a "
		    "passphrase); store it unencrypted, readable only by "
		    "the user that needs it");
	else if (find(pem, stop, "-----BEGIN CERTIFICATE-----") == NULL)
		snprintf(why, whylen, "it holds no certificate, only a key");
	else
		return 0;
	return -1;
}

/*
 * Is this combined PEM file (servercert.pem, clientcert.pem) a key pair
 * that libtls can use?  0, or -1 with the reason in why, in words an
 * administrator can act on: libtls itself says only that a key failed to
 * load, or on the client side nothing before the handshake fails.  The
 * key is the file's first private key, and it must belong to its first
 * certificate; the other certificates are the chain.
 */
int
tlsconf_keypair_check(const uint8_t *pem, size_t len, char *why,
    size_t whylen)
{
	struct chain	 c = { NULL, NULL };
	const uint8_t	*k;
	BIO		*bio = NULL;
	EVP_PKEY	*key = NULL;
	int		 encrypted, rv = -1;

	if (keypair_shape(pem, len, why, whylen) == -1)
		return -1;
	k = pem_key(pem, pem + len, &encrypted);
	if ((bio = BIO_new_mem_buf(k, (int)(pem + len - k))) == NULL ||
	    (key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase,
	    NULL)) == NULL)
		snprintf(why, whylen, "its private key cannot be parsed");
	else if (chain_read(&c, pem, len) == -1)
		snprintf(why, whylen, "its certificate cannot be parsed");
	else if (X509_check_private_key(c.leaf, key) != 1)
		snprintf(why, whylen, "its private key does not belong to its "
		    "first certificate");
	else
		rv = 0;
	BIO_free(bio);
	EVP_PKEY_free(key);
	chain_free(&c);
	ERR_clear_error();	/* nothing of this for libtls to report */
	return rv;
}

/* The keypair from a combined PEM file: 0, or -1 (tls_config_error()). */
static int
keypair_set(struct tls_config *cfg, const uint8_t *mem, size_t memlen)
{
	uint8_t	*certs;
	size_t	 certslen;
	int	 r;

	if ((certs = pem_certs(mem, memlen, &certslen)) == NULL)
		return -1;
	r = tls_config_set_keypair_mem(cfg, certs, certslen, mem, memlen);
	free(certs);
	return r;
}

/*
 * The cipher list: $TLSCIPHERS if set and not empty, else the control
 * file with its lines joined by ':', else libtls's "secure" default.
 * Returns 0 and a malloc'd string or NULL, or -1 on a read error.
 */
int
tlsconf_ciphers(const char *envval, const char *dir, const char *file,
    char **out)
{
	char	*p;
	size_t	 len, i, n;
	int	 r;

	*out = NULL;
	if (envval != NULL && *envval != '\0') {
		*out = strdup(envval);
		return *out == NULL ? -1 : 0;
	}
	if ((r = control_readfile(dir, file, &p, &len)) == -1)
		return -1;
	if (r == 0)
		return 0;
	/* lines joined with ':', CRs and blank lines dropped */
	for (i = 0, n = 0; i < len; i++) {
		if (p[i] == '\r' || (p[i] == '\n' && (n == 0 ||
		    p[n - 1] == ':')))
			continue;
		p[n++] = p[i] == '\n' ? ':' : p[i];
	}
	while (n > 0 && (p[n - 1] == ':' || p[n - 1] == ' '))
		n--;
	p[n] = '\0';
	len = n;
	if (len == 0) {
		free(p);
		return 0;
	}
	*out = p;
	return 0;
}

static void
seterr(char *err, size_t errlen, const char *what, const char *why)
{
	/* tls_config_error() has nothing to say when malloc failed */
	snprintf(err, errlen, "%s: %s", what,
	    why != NULL ? why : strerror(errno));
}

/* TLS 1.2 and 1.3; 0, or -1 with the reason in err. */
static int
set_protocols(struct tls_config *cfg, char *err, size_t errlen)
{
	uint32_t	 protocols;

	if (tls_config_parse_protocols(&protocols, "tlsv1.2,tlsv1.3") == -1 ||
	    tls_config_set_protocols(cfg, protocols) == -1) {
		seterr(err, errlen, "unable to set TLS protocols",
		    tls_config_error(cfg));
		return -1;
	}
	return 0;
}

/* ciphers (from source) into cfg; 0, or -1 with the reason in err. */
static int
use_ciphers(struct tls_config *cfg, const char *ciphers, const char *source,
    char *err, size_t errlen)
{
	if (tls_config_set_ciphers(cfg, ciphers) == 0)
		return 0;
	snprintf(err, errlen, "unable to use the ciphers of %s: %s", source,
	    tls_config_error(cfg));
	return -1;
}

/*
 * tlsclientciphers, where there is one; 0, or -1 with the reason in err
 * and libtls's default list left in place.
 */
static int
client_ciphers(struct tls_config *cfg, const char *dir, char *err,
    size_t errlen)
{
	char	*ciphers = NULL;
	int	 rv = 0;

	if (tlsconf_ciphers(NULL, dir, "tlsclientciphers", &ciphers) == -1) {
		snprintf(err, errlen, "unable to read tlsclientciphers: %s",
		    strerror(errno));
		rv = -1;
	} else if (ciphers != NULL)
		rv = use_ciphers(cfg, ciphers, "tlsclientciphers", err, errlen);
	free(ciphers);
	return rv;
}

/* Wipe a key's bytes, if they are still there. */
static void
pem_wipe(uint8_t **pem, size_t *len)
{
	if (*pem != NULL)
		tls_unload_file(*pem, *len);
	*pem = NULL;
	*len = 0;
}

/*
 * A server name as a client may ask for it, in lower case into out: a DNS
 * name of letters, digits, '-' and '_', in dot-separated labels, at most
 * TLSCONF_NAME_MAX long.  Such a name can never lead out of servercerts/
 * (no '/', no "..").  1 if it is one, else 0.
 */
int
tlsconf_servername(const char *name, char *out, size_t outlen)
{
	size_t	 i, label = 0;
	int	 c;

	for (i = 0; name[i] != '\0'; i++) {
		if (i >= TLSCONF_NAME_MAX || i + 1 >= outlen)
			return 0;
		c = tolower((unsigned char)name[i]);
		if (c == '.' && label == 0)
			return 0;
		label = c == '.' ? 0 : label + 1;
		if (c != '.' && c != '-' && c != '_' && !(c >= 'a' &&
		    c <= 'z') && !(c >= '0' && c <= '9'))
			return 0;
		out[i] = (char)c;
	}
	out[i] = '\0';
	return i > 0 && label > 0;
}

/*
 * servercerts/<name>.pem's bytes, read as servercert.pem is (not parsed):
 * 0, or -1 when name is not a server name or there is no such file (why
 * empty), or it cannot be read or is not a key pair by its PEM blocks
 * (why says so).  The caller wipes them with tls_unload_file().
 */
int
tlsconf_named_load(const char *dir, const char *name, uint8_t **pem,
    size_t *len, char *why, size_t whylen)
{
	char	 lower[TLSCONF_NAME_MAX + 1], file[TLSCONF_NAME_MAX + 32];
	char	 path[PATH_MAX];

	*pem = NULL;
	*len = 0;
	*why = '\0';
	if (!tlsconf_servername(name, lower, sizeof(lower)))
		return -1;
	snprintf(file, sizeof(file), "servercerts/%s.pem", lower);
	if (control_path(path, sizeof(path), dir, file) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if ((*pem = tls_load_file(path, len, NULL)) == NULL) {
		if (errno != ENOENT)
			snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (keypair_shape(*pem, *len, why, whylen) == -1) {
		pem_wipe(pem, len);
		return -1;
	}
	return 0;
}

/*
 * What the server side needs from the control directory, read while
 * files can still be opened (as root, before the privileges go; before
 * the sandbox): servercert.pem's bytes, the cipher list, whether to ask
 * for client certificates, whether servercerts/ is there (its files are
 * read only for the name a client asks for: tlsconf_named_load()).
 * Nothing of the TLS library is touched, so a session that never says
 * STARTTLS never pays for it; the file is only
 * checked for the PEM blocks a key pair needs.  0, or -1 with the reason
 * in err (then STARTTLS is not offered).
 */
int
tlsconf_server_read(struct tlsconf_server *sv, const char *dir,
    const char *ciphersenv, char *err, size_t errlen)
{
	char	 path[PATH_MAX], why[256];

	memset(sv, 0, sizeof(*sv));
	if (control_path(path, sizeof(path), dir, "servercert.pem") == -1 ||
	    (sv->pem = tls_load_file(path, &sv->pemlen, NULL)) == NULL) {
		seterr(err, errlen, "unable to read servercert.pem",
		    strerror(errno));
		return -1;
	}
	if (keypair_shape(sv->pem, sv->pemlen, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "unable to use servercert.pem: %s", why);
		tlsconf_server_free(sv);
		return -1;
	}
	if (tlsconf_ciphers(ciphersenv, dir, "tlsserverciphers",
	    &sv->ciphers) == -1) {
		snprintf(err, errlen, "unable to read tlsserverciphers: %s",
		    strerror(errno));
		tlsconf_server_free(sv);
		return -1;
	}
	sv->ciphersenv = ciphersenv != NULL && *ciphersenv != '\0';
	sv->askcert = control_path(path, sizeof(path), dir,
	    "clientca.pem") == 0 && access(path, F_OK) == 0;
	sv->hasnamed = control_path(path, sizeof(path), dir,
	    "servercerts") == 0 && access(path, X_OK) == 0;
	return 0;
}

/* Wipe every key's bytes and let go of what tlsconf_server_read() read. */
void
tlsconf_server_free(struct tlsconf_server *sv)
{
	pem_wipe(&sv->pem, &sv->pemlen);
	pem_wipe(&sv->named.pem, &sv->named.pemlen);
	free(sv->ciphers);
	memset(sv, 0, sizeof(*sv));
}

/* Why tls_configure() refused a key pair, in our words if we can. */
static void
keypair_failed(const uint8_t *pem, size_t pemlen, const char *file,
    const char *libtls, char *err, size_t errlen)
{
	char	 why[256], what[TLSCONF_NAME_MAX + 64];

	if (tlsconf_keypair_check(pem, pemlen, why, sizeof(why)) == -1)
		libtls = why;
	snprintf(what, sizeof(what), "unable to use %s", file);
	seterr(err, errlen, what, libtls);
}

/*
 * The key pair fetched for the name a client asked for (in named), or
 * NULL for servercert.pem's.
 */
static struct tlsconf_named *
named_for(struct tlsconf_server *sv, const char *servername)
{
	char	 name[TLSCONF_NAME_MAX + 1];

	if (servername == NULL || sv->named.pem == NULL ||
	    !tlsconf_servername(servername, name, sizeof(name)) ||
	    strcmp(sv->named.name, name) != 0)
		return NULL;
	return &sv->named;
}

/* A libtls server context for one key pair; NULL with the reason. */
static struct tls *
server_context(const struct tlsconf_server *sv, const uint8_t *pem,
    size_t pemlen, const char *file, char *err, size_t errlen)
{
	struct tls_config	*cfg = NULL;
	struct tls		*ctx = NULL;

	if ((cfg = tls_config_new()) == NULL) {
		seterr(err, errlen, "unable to set up TLS", strerror(errno));
		return NULL;
	}
	if (keypair_set(cfg, pem, pemlen) == -1) {
		snprintf(err, errlen, "unable to load %s: %s", file,
		    tls_config_error(cfg) != NULL ? tls_config_error(cfg) :
		    strerror(errno));
		goto done;
	}
	/*
	 * Unless told otherwise, TLS 1.2 only with forward-secret AEAD
	 * suites: libtls's "secure" list still has CBC ones (LUCKY13).
	 */
	if (use_ciphers(cfg, sv->ciphers != NULL ? sv->ciphers :
	    TLSCONF_SERVERCIPHERS, sv->ciphersenv ? "$TLSCIPHERS" :
	    "tlsserverciphers", err, errlen) == -1 ||
	    set_protocols(cfg, err, errlen) == -1)
		goto done;
	tls_config_prefer_ciphers_server(cfg);
	if (sv->askcert) {
		/*
		 * Ask for a certificate but accept any: libtls would abort
		 * the handshake for an unknown CA, and ordinary MTAs send
		 * their own certificates.  clientid.c judges it afterwards.
		 */
		tls_config_verify_client_optional(cfg);
		tls_config_insecure_noverifycert(cfg);
	}
	if ((ctx = tls_server()) == NULL) {
		seterr(err, errlen, "unable to set up TLS", strerror(errno));
		goto done;
	}
	if (tls_configure(ctx, cfg) == -1) {
		keypair_failed(pem, pemlen, file, tls_error(ctx), err, errlen);
		tls_free(ctx);
		ctx = NULL;
	}
	/* parsed into the context now: the PEM copy of the key can go */
	tls_config_clear_keys(cfg);
 done:
	tls_config_free(cfg);
	return ctx;
}

/*
 * A configured libtls server context from what tlsconf_server_read()
 * read, or NULL with the reason in err: for servername, if the client
 * asked for a name whose servercerts/<name>.pem has been fetched into
 * named, else (servername NULL, no such file) for servercert.pem.  Only
 * that key is parsed.  It needs no file and no system call the relay's
 * sandbox forbids, so it runs when a client asks for STARTTLS (or at
 * once, for implicit TLS).
 * The key's bytes are wiped either way: they are in OpenSSL's hands, or
 * of no use; and once a context is made, every other key's bytes too.
 */
struct tls *
tlsconf_server_make(struct tlsconf_server *sv, const char *servername,
    char *err, size_t errlen)
{
	struct tlsconf_named	*n = named_for(sv, servername);
	struct tls		*ctx;
	char			 file[TLSCONF_NAME_MAX + 32];
	uint8_t			**pem;
	size_t			*len;

	pem = n != NULL ? &n->pem : &sv->pem;
	len = n != NULL ? &n->pemlen : &sv->pemlen;
	if (n != NULL)
		snprintf(file, sizeof(file), "servercerts/%s.pem", n->name);
	else
		snprintf(file, sizeof(file), "servercert.pem");
	if (*pem == NULL) {
		snprintf(err, errlen, "%s was not read", file);
		return NULL;
	}
	ctx = server_context(sv, *pem, *len, file, err, errlen);
	pem_wipe(pem, len);
	if (ctx != NULL) {
		snprintf(sv->used, sizeof(sv->used), "%s", file);
		pem_wipe(&sv->pem, &sv->pemlen);
		pem_wipe(&sv->named.pem, &sv->named.pemlen);
	}
	return ctx;
}

/* Add "control/file not used: why." to the notes for the report. */
static void
not_used(char *note, size_t notelen, const char *dir, const char *file,
    const char *why)
{
	size_t	 n = strlen(note);

	if (n < notelen)
		snprintf(note + n, notelen - n, "%s%s/%s not used: %s.",
		    n > 0 ? " " : "", dir, file, why);
}

/*
 * clientcert.pem into cfg, if it is there and usable; a note says why
 * not.  A client certificate is a courtesy to the server: without one
 * the delivery goes on, with TLS.
 */
static void
client_keypair(struct tls_config *cfg, const char *dir, char *note,
    size_t notelen)
{
	char		 path[PATH_MAX], why[256];
	uint8_t		*mem;
	size_t		 memlen = 0;

	if (control_path(path, sizeof(path), dir, "clientcert.pem") == -1) {
		not_used(note, notelen, dir, "clientcert.pem", "path too long");
		return;
	}
	if ((mem = tls_load_file(path, &memlen, NULL)) == NULL) {
		if (errno != ENOENT)
			not_used(note, notelen, dir, "clientcert.pem",
			    strerror(errno));
		return;
	}
	if (tlsconf_keypair_check(mem, memlen, why, sizeof(why)) == -1)
		not_used(note, notelen, dir, "clientcert.pem", why);
	else if (keypair_set(cfg, mem, memlen) == -1)
		not_used(note, notelen, dir, "clientcert.pem",
		    "out of memory");
	tls_unload_file(mem, memlen);
}

/*
 * A configured libtls client context, or NULL with the reason in err
 * (TLS cannot be set up at all: out of memory).  libtls is not asked to
 * judge the server's certificate: with a tlshosts/<host>.pem,
 * servercert_verify() does that after the handshake, so a failure can be
 * reported in the qmail-tls patch's words; without one, TLS is
 * opportunistic and any certificate is taken.
 *
 * A local file that cannot be used never costs TLS, which would send
 * the mail in plaintext for our own mistake: a broken clientcert.pem is
 * left out, a bad tlsclientciphers gives way to libtls's default list,
 * and note says so, for the report.
 *
 * libtls reads the client key from its configuration only at connect, so
 * the configuration is handed back too: once the handshake is over,
 * tlsconf_client_done() wipes the PEM copy of the key and lets it go.
 */
struct tls *
tlsconf_client(const char *dir, struct tls_config **cfgp, char *err,
    size_t errlen, char *note, size_t notelen)
{
	struct tls_config	*cfg;
	struct tls		*ctx = NULL;
	char			 why[256];

	note[0] = '\0';
	if ((cfg = tls_config_new()) == NULL) {
		seterr(err, errlen, "unable to set up TLS", strerror(errno));
		return NULL;
	}
	if (set_protocols(cfg, err, errlen) == -1)
		goto done;
	if (client_ciphers(cfg, dir, why, sizeof(why)) == -1)
		not_used(note, notelen, dir, "tlsclientciphers", why);
	client_keypair(cfg, dir, note, notelen);
	tls_config_insecure_noverifycert(cfg);
	tls_config_insecure_noverifyname(cfg);
	if ((ctx = tls_client()) == NULL) {
		seterr(err, errlen, "unable to set up TLS", strerror(errno));
		goto done;
	}
	if (tls_configure(ctx, cfg) == -1) {
		seterr(err, errlen, "unable to configure TLS", tls_error(ctx));
		tls_free(ctx);
		ctx = NULL;
	}
 done:
	if (ctx != NULL) {
		*cfgp = cfg;	/* ctx holds it as well */
		return ctx;
	}
	tls_config_free(cfg);
	return NULL;
}

void
tlsconf_client_done(struct tls_config *cfg)
{
	tls_config_clear_keys(cfg);
	tls_config_free(cfg);
}
