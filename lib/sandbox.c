/*
 * Once the last server behind us has started, the relay needs only to
 * read, write, poll, close and shut down descriptors, wait for and signal
 * its child, allocate memory (libtls does), read the clock, take random
 * bytes (OpenSSL may reseed) and exit.  On Linux with libseccomp, anything
 * else kills the process: a compromised relay cannot open a file, connect
 * anywhere or start a program.  Elsewhere, or built with SECCOMP=0, this
 * does nothing (OpenBSD's pledge("stdio proc") would be the equivalent).
 */
#include <errno.h>
#include <stddef.h>

#include "sandbox.h"

#ifdef HAVE_SECCOMP
#include <seccomp.h>

static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(close), SCMP_SYS(shutdown),
	SCMP_SYS(wait4), SCMP_SYS(kill), SCMP_SYS(getpid),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(madvise), SCMP_SYS(futex), SCMP_SYS(getrandom),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep),
};

int
sandbox_relay(void)
{
	scmp_filter_ctx	 f;
	size_t		 i;
	int		 r;

	if ((f = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if ((r = seccomp_rule_add(f, SCMP_ACT_ALLOW, allowed[i],
		    0)) != 0)
			goto fail;
	/* a writable descriptor may only be closed, not opened: no fcntl */
	if ((r = seccomp_load(f)) != 0)
		goto fail;
	seccomp_release(f);
	return 0;
 fail:
	seccomp_release(f);
	errno = -r;
	return -1;
}

const char *
sandbox_kind(void)
{
	return "seccomp";
}
#else
int
sandbox_relay(void)
{
	return 0;
}

const char *
sandbox_kind(void)
{
	return "none";
}
#endif
