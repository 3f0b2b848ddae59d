/*
 * Certificate checks, both ways.  Who is the client: the chain checked
 * against control/clientca.pem (and clientcrl.pem), the e-mail addresses
 * read from the certificate structure, and the one listed in
 * control/tlsclients.  Is the server who we meant: its chain checked
 * against control/tlshosts/<host>.pem, and its names against the host.
 */
#ifndef CERTID_H
#define CERTID_H

#include <stddef.h>
#include <stdint.h>

#define CERTID_MAXADDR	8

struct certid {
	int	 provided;		/* the client sent a certificate */
	int	 verified;		/* its chain checks out */
	char	 reason[160];		/* why it was not verified */
	char	 subject[512];		/* RFC 2253, escaped */
	char	 addr[CERTID_MAXADDR][256];	/* e-mail addresses in it */
	size_t	 naddr;
	int	 listed;		/* index into addr, or -1 */
};

/*
 * What judging a client certificate reads from the control directory:
 * opened when the session starts, since the sandboxed relay cannot open
 * a file after the handshake, and read only if a certificate comes.
 */
struct certid_file {
	int	 fd;			/* open, not read yet; or -1 */
	int	 err;			/* errno of a failed open or read */
	char	*data;			/* once read; NULL: absent, or err */
	size_t	 len;
};

struct certid_trust {
	struct certid_file	 ca;		/* clientca.pem */
	struct certid_file	 crl;		/* clientcrl.pem */
	struct certid_file	 clients;	/* tlsclients */
};

void	certid_init(struct certid_trust *);
void	certid_load(struct certid_trust *, const char *);
void	certid_unload(struct certid_trust *);
void	certid_check(struct certid *, const uint8_t *, size_t,
	    struct certid_trust *);
int	certid_listed(struct certid *, struct certid_trust *);
/* How a server certificate must name the host (RFC 6125) */
enum certid_name {
	CERTID_NAME_SAN,	/* a subjectAltName DNS name (MTA-STS, DANE) */
	CERTID_NAME_SAN_OR_CN	/* ...or the CN when it has none (qmail-tls) */
};

int	certid_server(const uint8_t *, size_t, const char *, const char *,
	    enum certid_name, char *, size_t);

/* DANE (RFC 7672): the TLSA records of a mail server, as SMTP uses them */
enum tlsa_usage { TLSA_PKIX_TA, TLSA_PKIX_EE, TLSA_DANE_TA, TLSA_DANE_EE };
enum tlsa_selector { TLSA_FULLCERT, TLSA_SPKI };
enum tlsa_mtype { TLSA_EXACT, TLSA_SHA256, TLSA_SHA512 };

#define TLSA_MAXRR	16
#define TLSA_MAXDATA	4096		/* a whole certificate, 2 0 0 */

struct tlsa {
	unsigned char	 usage, selector, mtype;
	size_t		 len;
	unsigned char	 data[TLSA_MAXDATA];
};

struct tlsa_set {
	struct tlsa	 rr[TLSA_MAXRR];
	size_t		 n;		/* usable records, kept */
	size_t		 unusable;	/* records SMTP cannot use */
};

void	certid_tlsa_add(struct tlsa_set *, const unsigned char *, size_t);
int	certid_dane(const struct tlsa_set *, const uint8_t *, size_t,
	    const char *, const struct tlsa **, char *, size_t);

#endif
