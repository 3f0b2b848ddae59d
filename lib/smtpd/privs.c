/*
 * Giving up root, when started as root (tcpserver without -u).
 *
 * privs_become() is the whole of it for every process of a session but
 * one: the standby, which may have to read servercerts/<name>.pem (mode
 * 640 or 600, root's) for the relay once a client has named a server.
 * On Linux it becomes the user at once all the same, keeping of root's
 * powers only CAP_DAC_READ_SEARCH (to read any file: no writing, no
 * signals, no way back to root), and gives that up too once the file is
 * read.  Elsewhere privs_become_reader() fails with ENOTSUP, and the
 * standby stays root until then.
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <linux/capability.h>
#endif

#include "privs.h"

/* setgroups(), setgid(), setuid(), and no way back: 0, or -1 with errno. */
int
privs_become(uid_t uid, gid_t gid)
{
	if (setgroups(1, &gid) == -1 || setgid(gid) == -1 ||
	    setuid(uid) == -1)
		return -1;
	if (getuid() == 0 || geteuid() == 0 || setuid(0) != -1) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

#ifdef __linux__
/* The capability sets, effective and permitted: only these bits. */
static int
caps_set(unsigned int bits)
{
	struct __user_cap_header_struct	h = {
		_LINUX_CAPABILITY_VERSION_3, 0
	};
	struct __user_cap_data_struct	d[_LINUX_CAPABILITY_U32S_3] = {
		{ 0, 0, 0 }
	};

	d[0].effective = d[0].permitted = bits;
	return (int)syscall(SYS_capset, &h, d);
}

/*
 * privs_become(), keeping the right to read any file until
 * privs_end_reader(): 0, or -1 with errno, having kept nothing of root
 * (but still root, if becoming the user failed).
 */
int
privs_become_reader(uid_t uid, gid_t gid)
{
	int	 r, saved;

	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) == -1)
		return -1;
	r = privs_become(uid, gid);
	saved = errno;
	(void)prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
	if (r == 0 && (r = caps_set(1U << CAP_DAC_READ_SEARCH)) == -1) {
		saved = errno;
		if (caps_set(0) == -1)
			_exit(111);	/* a user with root's powers: never */
	}
	errno = saved;
	return r;
}

/* The file is read: nothing of root is left. */
int
privs_end_reader(void)
{
	return caps_set(0);
}
#else
int
privs_become_reader(uid_t uid, gid_t gid)
{
	(void)uid;
	(void)gid;
	errno = ENOTSUP;
	return -1;
}

int
privs_end_reader(void)
{
	return 0;
}
#endif
