/*
 * Narrowing a process once it only relays bytes.
 */
#ifndef SANDBOX_H
#define SANDBOX_H

int	sandbox_relay(void);
const char *sandbox_kind(void);

#endif
