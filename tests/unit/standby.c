/*
 * Unit tests: the TLS phase's standby (lib/smtpd/child.c).
 */
#include "unit.h"

/* All the child wrote to its stdout, up to n - 1 bytes. */
static size_t
child_output(struct child *c, char *out, size_t n)
{
	size_t	 len = 0;
	ssize_t	 r;

	while (len + 1 < n &&
	    (r = io_read(c->out, out + len, n - 1 - len,
	    io_now() + 10000)) > 0)
		len += r;
	out[len] = '\0';
	return len;
}

static const char *const tlsnames[] = { "SSL_*", "RELAYCLIENT", NULL };
static char	*basevars[] = { "PATH=/usr/bin:/bin", "BASE=kept", NULL };

/* A standby for argv, forked with basevars, and an empty set to add. */
static int
standby_setup(struct child *c, char **argv, struct env *add)
{
	struct env	 base;
	int		 r;

	if (env_init(&base, basevars) == -1)
		return -1;
	r = child_standby(c, argv, &base, tlsnames, NULL, NULL);
	env_free(&base);		/* the standby has its own copy */
	if (r == -1)
		return -1;
	return env_init(add, (char *[]){ NULL });
}

static void
t_standby_launch(void)
{
	char		*argv[] = { "sh", "-c",
			    "echo \"$BASE $SSL_PROTOCOL ${RELAYCLIENT-unset}\"; "
			    "cat", NULL };
	struct child	 c;
	struct env	 add;
	char		 out[256];

	CHECK_INT(standby_setup(&c, argv, &add), 0);
	CHECK_INT(env_set(&add, "SSL_PROTOCOL", "TLSv1.3"), 0);
	CHECK_INT(env_set(&add, "RELAYCLIENT", ""), 0);
	CHECK_INT(child_launch(&c, &add), 0);
	env_free(&add);
	CHECK_INT(io_writeall(c.in, "piped\n", 6, io_now() + 10000), 0);
	child_closein(&c);
	child_output(&c, out, sizeof(out));
	CHECK_STR(out, "kept TLSv1.3 \npiped\n");
	CHECK_INT(child_end(&c, 2000), 0);
}
UNIT(t_standby_launch,
    "standby: becomes the program, with the environment sent");

static void
t_standby_nothing_added(void)
{
	char		*argv[] = { "sh", "-c",
			    "echo \"$BASE ${SSL_PROTOCOL-none}\"", NULL };
	struct child	 c;
	struct env	 add;
	char		 out[256];

	CHECK_INT(standby_setup(&c, argv, &add), 0);
	CHECK_INT(child_launch(&c, &add), 0);
	env_free(&add);
	child_output(&c, out, sizeof(out));
	CHECK_STR(out, "kept none\n");
	CHECK_INT(child_end(&c, 2000), 0);
}
UNIT(t_standby_nothing_added,
    "standby: nothing added, the environment it holds");

/* A name not on the list (what a compromised relay might try) is refused. */
static void
t_standby_refuses_other_names(void)
{
	static const char	*bad[] = { "LD_PRELOAD", "PATH", "SSL", "BASE" };
	char			*argv[] = { "sh", "-c", "echo ran", NULL };
	struct child		 c;
	struct env		 add;
	char			 out[64];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(standby_setup(&c, argv, &add), 0);
		CHECK_INT(env_set(&add, "SSL_CIPHER", "x"), 0);
		CHECK_INT(env_set(&add, bad[i], "/tmp/x"), 0);
		CHECK_INT(child_launch(&c, &add), -1);
		CHECK_INT(errno, EPERM);
		env_free(&add);
		child_output(&c, out, sizeof(out));
		CHECK_STR(out, "");
		CHECK_INT(child_end(&c, 2000), 111);
	}
}
UNIT(t_standby_refuses_other_names,
    "standby: refuses names not on its list (LD_PRELOAD, PATH)");

static void
t_standby_dismissed(void)
{
	char		*argv[] = { "sh", "-c", "exit 7", NULL };
	struct child	 c;
	struct env	 add;

	CHECK_INT(standby_setup(&c, argv, &add), 0);
	env_free(&add);
	CHECK_INT(child_end(&c, 2000), 0);	/* 7 if sh had run */
}
UNIT(t_standby_dismissed,
    "standby: dismissed, it exits without running anything");

static void
t_standby_exec_fails(void)
{
	char		*argv[] = { "/nonexistent/qmail-smtpd", NULL };
	struct child	 c;
	struct env	 add;

	CHECK_INT(standby_setup(&c, argv, &add), 0);
	CHECK_INT(child_launch(&c, &add), -1);
	CHECK_INT(errno, ENOENT);
	env_free(&add);
	CHECK_INT(child_end(&c, 2000), 111);
}
UNIT(t_standby_exec_fails, "standby: a failed exec is reported");

/*
 * What starttls-smtpd does: standby, narrow, launch.  The launched
 * program must not inherit the filter (it reports its seccomp mode).
 */
static void
t_standby_outside_sandbox(void)
{
	char		*argv[] = { "sh", "-c",
			    "sed -n 's/^Seccomp:[[:space:]]*//p' "
			    "/proc/self/status", NULL };
	struct child	 c;
	struct env	 add;
	char		 out[64];
	pid_t		 pid;
	int		 st;

	if (strcmp(sandbox_kind(), "none") == 0 ||
	    access("/proc/self/status", R_OK) != 0)
		return;
	if ((pid = fork()) == 0) {
		if (standby_setup(&c, argv, &add) == -1 ||
		    sandbox_relay(&c.pid, 1) == -1 ||
		    child_launch(&c, &add) == -1)
			_exit(2);
		child_output(&c, out, sizeof(out));
		if (strcmp(out, "0\n") != 0)
			_exit(3);
		_exit(child_end(&c, 2000) == 0 ? 0 : 4);
	}
	CHECK(pid > 0);
	while (waitpid(pid, &st, 0) == -1)
		;
	CHECK(WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), 0);
}
UNIT(t_standby_outside_sandbox,
    "standby: launched from a sandbox, runs outside it");
