/*
 * starttls-smtpd -C -D: what DANE and MTA-STS senders see of this server
 * (inbound.c).
 */
#ifndef INBOUND_H
#define INBOUND_H

struct confcheck;

void	inbound_check(struct confcheck *c, const char *dir, char **given,
	    char **domains);

#endif
