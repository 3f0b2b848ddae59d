/*
 * Is an address this machine's own?
 */
#ifndef IPME_H
#define IPME_H

struct sockaddr;

int	ipme_is(const struct sockaddr *a);

#endif
