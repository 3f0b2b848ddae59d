/*
 * Who the client is (clientid.c): the chain checked against
 * control/clientca.pem (and clientcrl.pem), the e-mail addresses read
 * from the certificate structure, and the one listed in
 * control/tlsclients.
 */
#ifndef CLIENTID_H
#define CLIENTID_H

#include <stddef.h>
#include <stdint.h>

#include "lazyfile.h"

#define CLIENTID_MAXADDR	8

struct clientid {
	int	 provided;		/* the client sent a certificate */
	int	 verified;		/* its chain checks out */
	char	 reason[160];		/* why it was not verified */
	char	 subject[512];		/* RFC 2253, escaped */
	char	 addr[CLIENTID_MAXADDR][256];	/* e-mail addresses in it */
	size_t	 naddr;
	int	 listed;		/* index into addr, or -1 */
};

/*
 * What judging a client certificate reads from the control directory:
 * opened when the session starts, since the sandboxed relay cannot open
 * a file after the handshake, and read only if a certificate comes.
 */
struct clientid_trust {
	struct lazyfile	 ca;		/* clientca.pem */
	struct lazyfile	 crl;		/* clientcrl.pem */
	struct lazyfile	 clients;	/* tlsclients */
};

void	clientid_init(struct clientid_trust *t);
void	clientid_load(struct clientid_trust *t, const char *dir);
void	clientid_unload(struct clientid_trust *t);
void	clientid_check(struct clientid *id, const uint8_t *pem, size_t pemlen,
	    struct clientid_trust *t);
int	clientid_listed(struct clientid *id, struct clientid_trust *t);

#endif
