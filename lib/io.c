/*
 * Descriptor helpers: non-blocking mode, bounded waits, full writes.
 * Deadlines are absolute times in milliseconds from io_now(), a
 * monotonic clock, so that a changed wall clock cannot stretch a timeout.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

long
io_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
io_nonblock(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int
io_cloexec(int fd)
{
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/*
 * Wait until fd is ready for events or the deadline passes.  Returns 1 when
 * ready, 0 on timeout (errno ETIMEDOUT), -1 on error.
 */
int
io_wait(int fd, short events, long deadline)
{
	struct pollfd	 pfd;
	long		 left;
	int		 r;

	for (;;) {
		left = deadline - io_now();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return 0;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r > 0)
			return 1;
	}
}

int
io_writeall(int fd, const void *buf, size_t len, long deadline)
{
	const char	*p = buf;
	ssize_t		 w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if (io_wait(fd, POLLOUT, deadline) != 1)
				return -1;
			continue;
		}
		p += w;
		len -= w;
	}
	return 0;
}

/* One read, waiting at most until the deadline; 0 is EOF. */
ssize_t
io_read(int fd, void *buf, size_t len, long deadline)
{
	ssize_t	 r;

	for (;;) {
		r = read(fd, buf, len);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (io_wait(fd, POLLIN, deadline) != 1)
			return -1;
	}
}

/* Replies are small and latency matters more than packet count. */
void
io_nodelay(int fd)
{
	int	 one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}
