/*
 * Narrowing a process once it only relays bytes.
 */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <sys/types.h>

#include <stddef.h>

int	sandbox_relay(const pid_t *children, size_t nchildren);
const char *sandbox_kind(void);

#endif
