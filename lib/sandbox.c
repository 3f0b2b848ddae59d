/*
 * Once its servers are started (or standing by: see child.h) and every
 * file it needs is read, the relay needs only to read, write, poll, close
 * and shut down descriptors, wait for and signal its own children,
 * allocate memory (libtls does), read the clock, take random bytes
 * (OpenSSL's handshake and reseeding) and exit; and, since TLS is set up
 * only when a client asks for it, what OpenSSL's start-up needs beyond
 * that (sysinfo).  starttls-remote, once
 * connected with TLS settled, needs the same without children, and to
 * rewind the message (lseek on fd 0).  On Linux with libseccomp, anything
 * else kills the process: a compromised relay cannot open a file, connect
 * anywhere, start a program or signal any process but its children
 * (through their pidfds, or kill() on the pids given).  Elsewhere, or
 * built with SECCOMP=0, this does nothing (OpenBSD's pledge("stdio proc")
 * would be the nearest).
 */
#include <sys/types.h>

#include <errno.h>
#include <stddef.h>
#include <time.h>

#include "sandbox.h"

#ifdef HAVE_SECCOMP
#include <seccomp.h>

static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(lseek),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(close), SCMP_SYS(shutdown),
	SCMP_SYS(wait4), SCMP_SYS(getpid),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(madvise), SCMP_SYS(futex), SCMP_SYS(getrandom),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	/* OpenSSL 3 setting TLS up on demand, under the filter: memory size */
	SCMP_SYS(sysinfo),
	/* only through the pidfds of its own children: it can open none */
	SCMP_SYS(pidfd_send_signal),
};

int
sandbox_relay(const pid_t *children, size_t nchildren)
{
	scmp_filter_ctx	 f;
	size_t		 i;
	int		 r;

	/*
	 * libc reads /etc/localtime at its first time conversion (libcrypto
	 * checking a certificate's dates): now, while it still can.
	 */
	tzset();
	if ((f = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if ((r = seccomp_rule_add(f, SCMP_ACT_ALLOW, allowed[i],
		    0)) != 0)
			goto fail;
	for (i = 0; i < nchildren; i++)
		if (children[i] > 0 && (r = seccomp_rule_add(f, SCMP_ACT_ALLOW,
		    SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_EQ,
		    (scmp_datum_t)children[i]))) != 0)
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
sandbox_relay(const pid_t *children, size_t nchildren)
{
	(void)children;
	(void)nchildren;
	return 0;
}

const char *
sandbox_kind(void)
{
	return "none";
}
#endif
