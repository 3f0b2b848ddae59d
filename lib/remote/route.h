/*
 * Artificial SMTP routes (control/smtproutes).
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stddef.h>

int	route_find(const char *, size_t, const char *, char *, size_t, int *);

#endif
