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
 * What judging a client certificate reads from the control directory,
 * read when the session starts: the sandboxed relay cannot open a file
 * after the handshake.  A NULL buffer with err 0 means the file is absent.
 */
struct certid_trust {
	char	*ca;			/* clientca.pem */
	size_t	 calen;
	int	 caerr;			/* errno of a failed read */
	char	*crl;			/* clientcrl.pem */
	size_t	 crllen;
	int	 crlerr;
	char	*clients;		/* tlsclients */
	size_t	 clientslen;
	int	 clientserr;
};

void	certid_load(struct certid_trust *, const char *);
void	certid_unload(struct certid_trust *);
void	certid_check(struct certid *, const uint8_t *, size_t,
	    const struct certid_trust *);
int	certid_listed(struct certid *, const struct certid_trust *);
int	certid_server(const uint8_t *, size_t, const char *, const char *,
	    char *, size_t);

#endif
