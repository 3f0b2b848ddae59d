/*
 * qmail's queue/lock/tcpto: hosts that recently timed out are skipped.
 */
#ifndef TCPTO_H
#define TCPTO_H

#include <sys/socket.h>

int	tcpto_skip(const struct sockaddr *sa, long now);
void	tcpto_note(const struct sockaddr *sa, int timedout, long now);

#endif
