/*
 * Starting, ending and reaping the SMTP server behind us.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "io.h"

#if defined(__linux__) && !defined(F_SETPIPE_SZ)
#define F_SETPIPE_SZ	1031	/* fcntl.h hides it without _GNU_SOURCE */
#endif

#define ENV_MAX		(1024 * 1024)	/* a standby's environment, at most */
#define CHILD_LAUNCH_MS	10000	/* for a standby to take its environment */

extern char	**environ;

void
child_init(struct child *c)
{
	c->pid = -1;
	c->in = c->out = c->ctl = c->pidfd = -1;
}

/* Our ends of the pipes, once the child has its own. */
static void
pipes_tune(struct child *c)
{
#ifdef F_SETPIPE_SZ
	/* a message streams in large gulps, not a wake-up per 4 KiB */
	(void)fcntl(c->in, F_SETPIPE_SZ, 1024 * 1024);
#endif
	io_nonblock(c->in);
	io_nonblock(c->out);
}

/*
 * A descriptor for the child itself (Linux pidfd), so that signalling it
 * cannot reach another process once its pid is reaped and reused; the
 * sandboxed relay may signal through it and needs no kill() at all.
 * -1 where there is none: then kill() on the pid.
 */
static void
pidfd_take(struct child *c)
{
#ifdef SYS_pidfd_open
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (c->pidfd != -1)
		io_cloexec(c->pidfd);	/* it is, already; say so */
#else
	c->pidfd = -1;
#endif
}

static void
child_signal(struct child *c, int sig)
{
#ifdef SYS_pidfd_send_signal
	if (c->pidfd != -1) {
		(void)syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0);
		return;
	}
#endif
	(void)kill(c->pid, sig);
}

/*
 * posix_spawn(3) attributes for a program we start: we ignore SIGPIPE,
 * and qmail-smtpd and qmail-queue must not inherit that, as tcpserver
 * gives them the default.  0, or an errno (then at needs no destroy).
 */
int
child_spawnattr(posix_spawnattr_t *at)
{
	sigset_t	 def;
	int		 r;

	if ((r = posix_spawnattr_init(at)) != 0)
		return r;
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	if ((r = posix_spawnattr_setsigdefault(at, &def)) != 0 ||
	    (r = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGDEF)) != 0)
		posix_spawnattr_destroy(at);
	return r;
}

/*
 * Start argv[0] (searched in $PATH) with pipes on its stdin and stdout.
 * Our ends are close-on-exec and non-blocking; the child's are ordinary
 * blocking descriptors, as qmail-smtpd expects.
 */
int
child_start(struct child *c, char **argv, struct env *e)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	int				 in[2], out[2], r, saved;

	if (pipe(in) == -1)
		return -1;
	if (pipe(out) == -1) {
		saved = errno;
		close(in[0]);
		close(in[1]);
		errno = saved;
		return -1;
	}
	io_cloexec(in[0]);
	io_cloexec(in[1]);
	io_cloexec(out[0]);
	io_cloexec(out[1]);
	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		goto fail;
	if ((r = posix_spawn_file_actions_adddup2(&fa, in[0], 0)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(&fa, out[1], 1)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		goto fail;
	}
	if ((r = child_spawnattr(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		goto fail;
	}
	r = posix_spawnp(&c->pid, argv[0], &fa, &at, argv, e->vars);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		goto fail;
	close(in[0]);
	close(out[1]);
	c->in = in[1];
	c->out = out[0];
	c->ctl = -1;
	pidfd_take(c);
	pipes_tune(c);
	return 0;
 fail:
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
	errno = r;
	return -1;
}

/* May a launch set name=...?  "P*" in allowed admits every name P... */
static int
standby_allowed(const char *var, const char *const *allowed)
{
	size_t	 n, len;

	len = strcspn(var, "=");
	if (len == 0 || var[len] != '=')
		return 0;
	for (; *allowed != NULL; allowed++) {
		n = strlen(*allowed);
		if (n > 0 && (*allowed)[n - 1] == '*' ?
		    len >= n - 1 && strncmp(var, *allowed, n - 1) == 0 :
		    len == n && strncmp(var, *allowed, n) == 0)
			return 1;
	}
	return 0;
}

/*
 * The standby, in the forked process: read NUL-ended name=value strings
 * until our parent shuts its end, add them to the environment it was
 * forked with, then exec argv.  Only names in allowed are taken: a
 * compromised relay cannot hand the server LD_PRELOAD or a new PATH.
 * Its end of ctl is close-on-exec, so a successful exec reads as EOF
 * there; a failure is reported as an errno.  Nothing at all to read means
 * the server is not wanted after all.
 */
static void
standby_run(int ctl, char **argv, struct env *e, const char *const *allowed)
{
	char	*add, *p, *next, *eq;
	size_t	 len;
	int	 err;

	if (io_readall(ctl, ENV_MAX, &add, &len) == -1) {
		if (errno == EFBIG)
			errno = E2BIG;
		goto fail;
	}
	if (len == 0)
		_exit(0);
	if (add[len - 1] != '\0') {
		errno = EINVAL;
		goto fail;
	}
	for (p = add; p < add + len; p = next) {
		next = p + strlen(p) + 1;
		if (*p == '\0')	/* nothing to add is sent as "" */
			continue;
		if (!standby_allowed(p, allowed)) {
			errno = EPERM;
			goto fail;
		}
		eq = strchr(p, '=');
		*eq = '\0';
		if (env_set(e, p, eq + 1) == -1)
			goto fail;
	}
	environ = e->vars;
	signal(SIGPIPE, SIG_DFL);	/* as child_start() gives it */
	execvp(argv[0], argv);
 fail:
	err = errno;
	(void)write(ctl, &err, sizeof(err));
	_exit(111);
}

/*
 * Fork a standby for argv with environment e, to which a launch may add
 * the names in allowed (NULL-terminated; "P*" for every name starting
 * with P).  From here the process may narrow itself, and child_launch()
 * still starts argv outside the narrowing.  Fork it before opening
 * anything the server must not inherit: it keeps every descriptor we
 * have, as child_start() would pass them.  first, if not NULL, runs in
 * the standby before it waits for anything: to serve what only a process
 * outside the narrowing can, and to give up privileges.
 */
int
child_standby(struct child *c, char **argv, struct env *e,
    const char *const *allowed, void (*first)(void *), void *arg)
{
	int	 in[2], out[2], ctl[2], saved;

	in[0] = in[1] = out[0] = out[1] = ctl[0] = ctl[1] = -1;
	if (pipe(in) == -1 || pipe(out) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ctl) == -1)
		goto fail;
	io_cloexec(in[1]);
	io_cloexec(out[0]);
	io_cloexec(ctl[0]);
	io_cloexec(ctl[1]);
	switch (c->pid = fork()) {
	case -1:
		goto fail;
	case 0:
		if (dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1) {
			saved = errno;
			(void)write(ctl[1], &saved, sizeof(saved));
			_exit(111);
		}
		if (in[0] != 0)
			close(in[0]);
		if (out[1] != 1)
			close(out[1]);
		close(in[1]);
		close(out[0]);
		close(ctl[0]);
		if (first != NULL)
			first(arg);
		standby_run(ctl[1], argv, e, allowed);
	}
	close(in[0]);
	close(out[1]);
	close(ctl[1]);
	c->in = in[1];
	c->out = out[0];
	c->ctl = ctl[0];
	io_nonblock(c->ctl);	/* child_launch()'s deadlines */
	pidfd_take(c);
	pipes_tune(c);
	return 0;
 fail:
	saved = errno;
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
	close(ctl[0]);
	close(ctl[1]);
	child_init(c);
	errno = saved;
	return -1;
}

/*
 * Hand the standby what to add to its environment and wait until it has
 * become the server: 0, or -1 with errno (the standby's, when a name was
 * not allowed or exec failed).
 */
int
child_launch(struct child *c, const struct env *add)
{
	size_t	 i;
	ssize_t	 r;
	int	 err;

	if (c->ctl == -1) {
		errno = EBADF;
		return -1;
	}
	for (i = 0; i < add->n; i++)
		if (io_writeall(c->ctl, add->vars[i],
		    strlen(add->vars[i]) + 1, io_now() + CHILD_LAUNCH_MS) == -1)
			goto fail;
	if (add->n == 0 && io_writeall(c->ctl, "", 1,
	    io_now() + CHILD_LAUNCH_MS) == -1)
		goto fail;
	if (shutdown(c->ctl, SHUT_WR) == -1)
		goto fail;
	r = io_read(c->ctl, &err, sizeof(err), io_now() + CHILD_LAUNCH_MS);
	close(c->ctl);
	c->ctl = -1;
	if (r == 0)
		return 0;
	errno = r == (ssize_t)sizeof(err) ? err : EIO;
	return -1;
 fail:
	err = errno;
	close(c->ctl);
	c->ctl = -1;
	errno = err;
	return -1;
}

void
child_closein(struct child *c)
{
	if (c->in != -1)
		close(c->in);
	c->in = -1;
}

void
child_closeout(struct child *c)
{
	if (c->out != -1)
		close(c->out);
	c->out = -1;
}

/*
 * End the child and reap it.  qmail-smtpd exits when its input ends, so
 * its stdin is closed and its stdout drained (and discarded) until EOF;
 * a child still holding its stdout after grace_ms gets SIGTERM.  Returns
 * an exit code in qmail's terms: the child's own, or 111 if a signal
 * ended it.
 */
int
child_end(struct child *c, int grace_ms)
{
	char	 junk[4096];
	long	 deadline;
	ssize_t	 r;
	int	 status;

	child_closein(c);
	if (c->ctl != -1) {	/* a standby never launched: it just exits */
		close(c->ctl);
		c->ctl = -1;
	}
	deadline = io_now() + grace_ms;
	while (c->out != -1) {
		r = read(c->out, junk, sizeof(junk));
		if ((r > 0 || (r == -1 && errno == EINTR)) &&
		    io_now() < deadline)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    io_wait(c->out, POLLIN, deadline) == 1)
			continue;
		if (r != 0 && c->pid > 0)
			child_signal(c, SIGTERM);
		child_closeout(c);
	}
	if (c->pid <= 0)
		return 111;
	while ((r = waitpid(c->pid, &status, 0)) == -1 && errno == EINTR)
		;
	if (c->pidfd != -1)
		close(c->pidfd);
	c->pidfd = -1;
	c->pid = -1;
	if (r == -1)
		return 111;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 111;
}
