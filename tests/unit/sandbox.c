/*
 * Unit tests: the relay's seccomp sandbox (lib/sandbox.c).
 */
#include "unit.h"

/* Run fn in a child that first narrows itself; its wait status. */
static pid_t	 sb_child = -1;		/* a child the narrowed one may signal */

static int
sandboxed(void (*fn)(void))
{
	pid_t	 pid;
	int	 status;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if (sandbox_relay(&sb_child, 1) == -1)
			_exit(99);
		fn();
		_exit(0);
	}
	while (waitpid(pid, &status, 0) == -1)
		;
	return status;
}

static void
try_open(void)
{
	(void)open("/etc/hostname", O_RDONLY);	/* forbidden */
	_exit(1);				/* never reached */
}

static void
try_relay(void)
{
	char		*p;
	int		 fd[2] = { -1, -1 };

	struct tm	 tm;
	time_t		 now = time(NULL);

	/* what the relay does: allocate, write, poll, close, exit */
	if ((p = malloc(1 << 20)) == NULL)
		_exit(2);
	/* libcrypto checking a certificate's dates */
	if (gmtime_r(&now, &tm) == NULL || localtime_r(&now, &tm) == NULL)
		_exit(4);
	p[0] = 'x';
	if (write(STDOUT_FILENO, "", 0) == -1)
		_exit(3);
	(void)poll(NULL, 0, 1);
	free(p);
	(void)close(fd[0]);
	_exit(0);
}

static void
try_kill_child(void)
{
	if (kill(sb_child, SIGTERM) == -1)
		_exit(5);
	_exit(0);
}

static pid_t	 sb_other = -1;		/* a process it may not signal */

static void
try_kill_other(void)
{
	(void)kill(sb_other, 0);	/* not one of its children */
	_exit(1);
}

/* A child to be signalled: sleeps until then, reaped by the caller. */
static pid_t
sleeper(void)
{
	pid_t	 pid;

	if ((pid = fork()) == 0) {
		sleep(30);
		_exit(0);
	}
	return pid;
}

static void
t_sandbox_kill_children_only(void)
{
	int	 st, cst;

	if (strcmp(sandbox_kind(), "none") == 0)
		return;
	sb_child = sleeper();
	CHECK(sb_child > 0);
	st = sandboxed(try_kill_child);
	while (waitpid(sb_child, &cst, 0) == -1)
		;
	sb_child = -1;
	CHECK(WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), 0);
	CHECK(WIFSIGNALED(cst));
	CHECK_INT(WTERMSIG(cst), SIGTERM);
	sb_other = getpid();		/* its parent: taken before the filter */
	st = sandboxed(try_kill_other);
	CHECK(WIFSIGNALED(st));
	CHECK_INT(WTERMSIG(st), SIGSYS);
}
UNIT(t_sandbox_kill_children_only,
    "sandbox: signals its own children only");

/*
 * A child that ignores the end of its input is ended with SIGTERM by
 * child_end(), from inside the filter, through its pidfd: kill() is not
 * allowed for any pid here.
 */
static void
t_sandbox_ends_child_by_pidfd(void)
{
	char		*argv[] = { "sh", "-c", "exec sleep 30", NULL };
	char		*vars[] = { "PATH=/usr/bin:/bin", NULL };
	struct child	 c;
	struct env	 e;
	pid_t		 pid, none = -1;
	int		 st;

	if (strcmp(sandbox_kind(), "none") == 0)
		return;
	if ((pid = fork()) == 0) {
		if (env_init(&e, vars) == -1 || child_start(&c, argv, &e) == -1)
			_exit(2);
		if (c.pidfd == -1)
			_exit(0);	/* no pidfds here: kill() it is */
		if (sandbox_relay(&none, 1) == -1)
			_exit(3);
		_exit(child_end(&c, 200) == 111 ? 0 : 4);
	}
	CHECK(pid > 0);
	while (waitpid(pid, &st, 0) == -1)
		;
	CHECK(WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), 0);
}
UNIT(t_sandbox_ends_child_by_pidfd,
    "sandbox: ends a stuck child through its pidfd");

static void
t_sandbox_refuses_open(void)
{
	int	 st;

	if (strcmp(sandbox_kind(), "none") == 0)
		return;		/* built with SECCOMP=0: nothing to test */
	st = sandboxed(try_open);
	CHECK(WIFSIGNALED(st));
	CHECK_INT(WTERMSIG(st), SIGSYS);
}
UNIT(t_sandbox_refuses_open,
    "sandbox: a forbidden call (open) kills the relay");

static void
t_sandbox_allows_relaying(void)
{
	int	 st;

	st = sandboxed(try_relay);
	CHECK(WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), 0);
}
UNIT(t_sandbox_allows_relaying,
    "sandbox: what the relay does is allowed");
