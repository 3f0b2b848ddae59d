/*
 * This machine's own addresses, as qmail's ipme: an MX that is one of
 * them would deliver to ourselves.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <ifaddrs.h>
#include <string.h>

#include "ipme.h"

/*
 * Is this address one of ours (or 0.0.0.0)?  Then delivering to it
 * loops.  1 or 0, or -1 when the interfaces cannot be listed.
 */
int
ipme_is(const struct sockaddr *a)
{
	static struct ifaddrs	*ifs;
	static int		 done;
	struct ifaddrs		*i;

	if (!done) {
		if (getifaddrs(&ifs) == -1)
			return -1;
		done = 1;
	}
	if (a->sa_family == AF_INET &&
	    ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
	    htonl(INADDR_ANY))
		return 1;
	for (i = ifs; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family !=
		    a->sa_family)
			continue;
		if (a->sa_family == AF_INET &&
		    memcmp(&((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr,
		    &((const struct sockaddr_in *)(const void *)a)->sin_addr,
		    4) == 0)
			return 1;
		if (a->sa_family == AF_INET6 &&
		    memcmp(&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr,
		    &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
		    16) == 0)
			return 1;
	}
	return 0;
}
