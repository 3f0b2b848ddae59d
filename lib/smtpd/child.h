/*
 * The SMTP server behind us (qmail-smtpd, or rblsmtpd ... qmail-smtpd):
 * started with its stdin and stdout on pipes to us, stderr shared (the
 * log), and an environment we build for it.
 *
 * The server of the TLS phase needs an environment known only after the
 * handshake, yet a seccomp filter is inherited by whatever its process
 * starts.  So it comes from a standby: a process forked before the relay
 * narrows itself, its stdin and stdout already on the pipes, that waits
 * for what to add to its environment (child_launch()), takes only the
 * names it was told to, and then becomes the server.
 */
#ifndef CHILD_H
#define CHILD_H

#include <sys/types.h>

#include <spawn.h>

#include "env.h"

struct child {
	pid_t	 pid;
	int	 in;		/* we write: the child's stdin */
	int	 out;		/* we read: the child's stdout */
	int	 ctl;		/* a standby's: its environment, exec errors */
	int	 pidfd;		/* to signal it (Linux), or -1 */
};


void	child_init(struct child *c);
int	child_spawnattr(posix_spawnattr_t *at);
int	child_start(struct child *c, char **argv, struct env *e);
int	child_standby(struct child *c, char **argv, struct env *e,
	    const char *const *allowed, void (*first)(void *), void *arg);
int	child_launch(struct child *c, const struct env *add);
void	child_closein(struct child *c);
void	child_closeout(struct child *c);
int	child_end(struct child *c, int grace_ms);

#endif
