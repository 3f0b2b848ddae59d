/*
 * DANE (dane.c): the TLSA records of a mail server, as SMTP uses them.
 */
#ifndef DANE_H
#define DANE_H

#include <stddef.h>
#include <stdint.h>

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

void	dane_tlsa_add(struct tlsa_set *set, const unsigned char *rdata,
	    size_t len);
int	dane_match(const struct tlsa_set *set, const uint8_t *pem,
	    size_t pemlen, const char *host, const struct tlsa **match,
	    char *why, size_t whylen);

int	dane_record(const uint8_t *pem, size_t pemlen, char *out,
	    size_t outlen);

#endif
