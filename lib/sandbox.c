/*
 * Once its servers are started (or standing by: see child.h) and every
 * file it needs is read, the relay needs only to read, write, poll, close
 * and shut down descriptors, wait for and signal its own children,
 * allocate memory (libtls does), read the clock, take random bytes
 * (OpenSSL's handshake and reseeding) and exit; and, since TLS is set up
 * only when a client asks for it, what OpenSSL's start-up needs beyond
 * that (sysinfo).  starttls-remote, once connected with TLS settled,
 * needs the same without children, and to rewind the message (lseek on
 * fd 0).  On Linux, a seccomp filter kills the process for anything
 * else: a compromised relay cannot open a file, connect anywhere, start
 * a program or signal any process but its children (through their
 * pidfds, or kill() on the pids given).  Elsewhere, or built with
 * SECCOMP=0, this does nothing (OpenBSD's pledge("stdio proc") would be
 * the nearest).
 */
#include <sys/types.h>

#include <errno.h>
#include <stddef.h>
#include <time.h>

#include "sandbox.h"

#ifdef HAVE_SECCOMP
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#if defined(__x86_64__)
#define SANDBOX_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH	AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define SANDBOX_ARCH	AUDIT_ARCH_I386
#elif defined(__arm__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SANDBOX_ARCH	AUDIT_ARCH_ARM
#elif defined(__riscv) && __riscv_xlen == 64
#define SANDBOX_ARCH	AUDIT_ARCH_RISCV64
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SANDBOX_ARCH	AUDIT_ARCH_PPC64LE
#elif defined(__s390x__)
#define SANDBOX_ARCH	AUDIT_ARCH_S390X
#else
#error "no seccomp architecture known for this machine: build with SECCOMP=0"
#endif

/* the low 32 bits of a system call's first argument: a pid_t */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG0_LOW	offsetof(struct seccomp_data, args[0])
#else
#define ARG0_LOW	(offsetof(struct seccomp_data, args[0]) + 4)
#endif

/*
 * The filter is a fixed BPF program, written here rather than compiled
 * by libseccomp in every session: only the pids that kill() may reach
 * are filled in at run time.  A system call that a machine does not
 * have is left out by the preprocessor.
 */
static const int allowed[] = {
	__NR_read, __NR_write, __NR_readv, __NR_writev, __NR_lseek,
#ifdef __NR_poll
	__NR_poll,
#endif
	__NR_ppoll, __NR_close, __NR_shutdown, __NR_wait4, __NR_getpid,
	__NR_exit, __NR_exit_group, __NR_rt_sigreturn,
	__NR_brk, __NR_mmap, __NR_munmap, __NR_mremap, __NR_madvise,
	__NR_futex, __NR_getrandom,
	__NR_clock_gettime, __NR_gettimeofday,
#ifdef __NR_time
	__NR_time,
#endif
	__NR_nanosleep, __NR_clock_nanosleep,
	/* only through the pidfds of its own children: it can open none */
#ifdef __NR_pidfd_send_signal
	__NR_pidfd_send_signal,
#endif
	/* OpenSSL 3 setting TLS up on demand, under the filter: memory size */
	__NR_sysinfo,
	/* and no fcntl: a descriptor may be closed, never changed or made */
};

#define NALLOWED	(sizeof(allowed) / sizeof(allowed[0]))
#define MAXPIDS		8

#define ALLOW		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define KILL		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)
#define LOAD(off)	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define IF_NOT(k, skip)	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), 0, (skip))

int
sandbox_relay(const pid_t *children, size_t nchildren)
{
	struct sock_filter	 f[3 + 2 * NALLOWED + 3 + 2 * MAXPIDS];
	struct sock_fprog	 prog;
	size_t			 i, n = 0, npids = 0;

	/*
	 * libc reads /etc/localtime at its first time conversion (libcrypto
	 * checking a certificate's dates): now, while it still can.
	 */
	tzset();
	for (i = 0; i < nchildren; i++)
		if (children[i] > 0)
			npids++;
	if (npids > MAXPIDS) {
		errno = EINVAL;
		return -1;
	}
	/* another architecture's system call numbers mean other calls */
	f[n++] = (struct sock_filter)LOAD(offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    SANDBOX_ARCH, 1, 0);
	f[n++] = (struct sock_filter)KILL;
	f[n++] = (struct sock_filter)LOAD(offsetof(struct seccomp_data, nr));
	for (i = 0; i < NALLOWED; i++) {
		f[n++] = (struct sock_filter)IF_NOT((unsigned)allowed[i], 1);
		f[n++] = (struct sock_filter)ALLOW;
	}
	/* kill() on the pids given, and no other */
	f[n++] = (struct sock_filter)IF_NOT(__NR_kill, 1 + 2 * npids);
	f[n++] = (struct sock_filter)LOAD(ARG0_LOW);
	for (i = 0; i < nchildren; i++) {
		if (children[i] <= 0)
			continue;
		f[n++] = (struct sock_filter)IF_NOT((unsigned)children[i], 1);
		f[n++] = (struct sock_filter)ALLOW;
	}
	f[n++] = (struct sock_filter)KILL;
	prog.len = (unsigned short)n;
	prog.filter = f;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1)
		return -1;
	return 0;
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
