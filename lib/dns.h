/*
 * Where to deliver: MX lookup in preference order (equal preferences
 * shuffled), A/AAAA fallback, [1.2.3.4] and [IPv6:...] literals; which
 * answers DNSSEC validated, and the TLSA records for DANE.
 */
#ifndef DNS_H
#define DNS_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>

#define DNS_SOFT	(-1)	/* try again later */
#define DNS_HARD	(-2)	/* the name does not exist */
#define DNS_NULLMX	(-3)	/* the domain accepts no mail (RFC 7505) */

#define DNS_NOCONNECT	(-1)	/* dns_connect(): no connection */
#define DNS_NOSOCKET	(-2)	/* dns_connect(): no socket at all */

#define DNS_MAXHOST	256
#define DNS_MAXADDR	64

struct dns_addr {
	struct sockaddr_storage	 sa;
	socklen_t		 salen;
	unsigned int		 pref;
	int			 secure;	/* validated by DNSSEC */
	char			 host[DNS_MAXHOST];	/* MX name, for TLS */
};

struct dns_list {
	struct dns_addr	 a[DNS_MAXADDR];
	size_t		 n;
};

#define DNS_T_TLSA	52

enum dns_tlsa {
	DNS_TLSA_NONE,		/* none */
	DNS_TLSA_INSECURE,	/* some, but DNSSEC did not validate them */
	DNS_TLSA_FOUND,		/* validated records, usable or not */
	DNS_TLSA_FAILED		/* the lookup failed: SERVFAIL, say */
};

enum dns_sts {
	DNS_STS_NONE,		/* no MTA-STS record (or not one that counts) */
	DNS_STS_FOUND,		/* one, and its id */
	DNS_STS_FAILED		/* the lookup failed for now */
};

struct tlsa_set;

int	dns_init(int dnssec);
int	dns_trusted(char *resolver, size_t len);
int	dns_validates(void);
int	dns_literal(const char *host, struct dns_list *l);
int	dns_ip(const char *host, struct dns_list *l, unsigned int pref,
	    int secure);
int	dns_mx(const char *domain, struct dns_list *l, unsigned long random);
unsigned long long dns_shuffle_key(unsigned long random, unsigned int i);
void	dns_fmt(const struct dns_addr *d, char *out, size_t outlen);
int	dns_connect(const struct dns_addr *d, int port, long deadline,
	    int *timedout);
enum dns_tlsa	dns_tlsa(const char *host, int port, struct tlsa_set *set);
enum dns_sts	dns_sts(const char *domain, char *id, size_t idlen);

#endif
