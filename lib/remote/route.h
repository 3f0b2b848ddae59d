/*
 * Artificial SMTP routes (control/smtproutes).
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stddef.h>

int	route_find(const char *routes, size_t routeslen, const char *host,
	    char *relay, size_t relaylen, int *port);

#endif
