/*
 * Starting, ending and reaping the SMTP server behind us.
 */
#include <sys/types.h>
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

int
env_init(struct env *e, char **from)
{
	size_t	 n;

	for (n = 0; from[n] != NULL; n++)
		;
	e->size = n + 16;
	if ((e->vars = calloc(e->size, sizeof(char *))) == NULL)
		return -1;
	e->n = 0;
	for (; e->n < n; e->n++)
		if ((e->vars[e->n] = strdup(from[e->n])) == NULL)
			return -1;
	return 0;
}

static int
env_match(const char *var, const char *name, size_t len)
{
	return strncmp(var, name, len) == 0 && var[len] == '=';
}

void
env_unset(struct env *e, const char *name)
{
	size_t	 i, len = strlen(name);

	for (i = 0; i < e->n; )
		if (env_match(e->vars[i], name, len)) {
			free(e->vars[i]);
			e->vars[i] = e->vars[--e->n];
			e->vars[e->n] = NULL;
		} else
			i++;
}

void
env_unset_prefix(struct env *e, const char *prefix)
{
	size_t	 i, len = strlen(prefix);

	for (i = 0; i < e->n; )
		if (strncmp(e->vars[i], prefix, len) == 0) {
			free(e->vars[i]);
			e->vars[i] = e->vars[--e->n];
			e->vars[e->n] = NULL;
		} else
			i++;
}

int
env_set(struct env *e, const char *name, const char *value)
{
	char	**nv, *var;
	size_t	  len;

	env_unset(e, name);
	len = strlen(name) + 1 + strlen(value) + 1;
	if ((var = malloc(len)) == NULL)
		return -1;
	memcpy(var, name, strlen(name));
	var[strlen(name)] = '=';
	memcpy(var + strlen(name) + 1, value, strlen(value) + 1);
	if (e->n + 1 >= e->size) {
		nv = realloc(e->vars, (e->size * 2) * sizeof(char *));
		if (nv == NULL) {
			free(var);
			return -1;
		}
		e->vars = nv;
		e->size *= 2;
	}
	e->vars[e->n++] = var;
	e->vars[e->n] = NULL;
	return 0;
}

void
env_free(struct env *e)
{
	size_t	 i;

	for (i = 0; i < e->n; i++)
		free(e->vars[i]);
	free(e->vars);
	e->vars = NULL;
	e->n = e->size = 0;
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
	sigset_t			 def;
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
	/*
	 * We ignore SIGPIPE; qmail-smtpd and qmail-queue must not inherit
	 * that, as tcpserver gives them the default.
	 */
	if ((r = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		goto fail;
	}
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	if ((r = posix_spawnattr_setsigdefault(&at, &def)) != 0 ||
	    (r = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF)) != 0) {
		posix_spawnattr_destroy(&at);
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
#ifdef F_SETPIPE_SZ
	/* a message streams in large gulps, not a wake-up per 4 KiB */
	(void)fcntl(c->in, F_SETPIPE_SZ, 1024 * 1024);
#endif
	io_nonblock(c->in);
	io_nonblock(c->out);
	return 0;
 fail:
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
	errno = r;
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
			kill(c->pid, SIGTERM);
		child_closeout(c);
	}
	if (c->pid <= 0)
		return 111;
	while (waitpid(c->pid, &status, 0) == -1)
		if (errno != EINTR) {
			c->pid = -1;
			return 111;
		}
	c->pid = -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 111;
}
