/*
 * Unit tests: the configuration check (lib/confcheck.c): what -C says
 * of a key pair, a CA file and tlsclients, and the exit status, its
 * lines caught from standard output.
 */
#include "unit.h"

#include "confcheck.h"
#include "pki.h"

static char	 dir[] = "/tmp/confcheck-unit.XXXXXX";
static char	 out[16384];

static void
put(const char *name, const char *text)
{
	char	 path[128];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

/* Run fn on a check of dir with stdout caught in out: the exit status. */
static int
caught(void (*fn)(struct confcheck *))
{
	struct confcheck	 c;
	FILE			*tmp;
	size_t			 n;
	int			 saved;

	fflush(stdout);
	if ((tmp = tmpfile()) == NULL || (saved = dup(1)) == -1)
		return -1;
	dup2(fileno(tmp), 1);
	confcheck_init(&c, dir);
	fn(&c);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return confcheck_status(&c);
}

static void
servercert(struct confcheck *c)
{
	confcheck_keypair(c, "servercert.pem", NULL, CHECK_REQUIRED);
}

static void
tlsclients(struct confcheck *c)
{
	confcheck_tlsclients(c);
}

static void
t_confcheck(void)
{
	static char	 pem[16384];
	EVP_PKEY	*key;
	X509		*x;
	size_t		 n;

	CHECK(mkdtemp(dir) != NULL);
	key = pki_key();
	x = pki_cert("mx.example.org", "DNS:mx.example.org", key, NULL, key,
	    -1, 30, 1);
	n = pki_pem_key(pem, sizeof(pem), key, NULL);
	pki_pem(pem + n, sizeof(pem) - n, x, NULL);
	put("servercert.pem", pem);
	CHECK_INT(caught(servercert), 0);
	CHECK(strstr(out, "servercert.pem: ok: EC 256-bit key, belongs to "
	    "the first certificate\n") != NULL);
	CHECK(strstr(out, "servercert.pem: ok: names mx.example.org\n") !=
	    NULL);
	put("servercert.pem", "no key here\n");
	CHECK_INT(caught(servercert), 100);
	CHECK(strstr(out, "servercert.pem: error: ") != NULL);
	put("tlsclients", "good@example.com\nrelay\ngood@example.com\n");
	CHECK_INT(caught(tlsclients), 0);
	CHECK(strstr(out, "tlsclients: warning: line 2: \"relay\" is not an "
	    "e-mail address") != NULL);
	X509_free(x);
	EVP_PKEY_free(key);
	snprintf(pem, sizeof(pem), "%s/servercert.pem", dir);
	unlink(pem);
	snprintf(pem, sizeof(pem), "%s/tlsclients", dir);
	unlink(pem);
	rmdir(dir);
}
UNIT(t_confcheck, "confcheck: a key pair, a broken one, tlsclients lines");
