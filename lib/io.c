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
#include <stdlib.h>
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

/*
 * The rest of a blocking fd, up to max bytes, into a NUL-terminated
 * malloc'd buffer: 1, or -1 with errno (EFBIG beyond max).  Only read(2)
 * and memory: it also serves a process that can no longer open or stat
 * anything.
 */
int
io_readall(int fd, size_t max, char **out, size_t *outlen)
{
	char	*p = NULL, *np;
	size_t	 len = 0, size = 0;
	ssize_t	 r;
	int	 saved;

	*out = NULL;
	*outlen = 0;
	for (;;) {
		if (len + 1 >= size) {
			if (size > max) {
				errno = EFBIG;
				goto fail;
			}
			size = size == 0 ? 4096 : size * 2;
			if ((np = realloc(p, size + 1)) == NULL)
				goto fail;
			p = np;
		}
		r = read(fd, p + len, size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		len += r;
	}
	if (len > max) {
		errno = EFBIG;
		goto fail;
	}
	p[len] = '\0';
	*out = p;
	*outlen = len;
	return 1;
 fail:
	saved = errno;
	free(p);
	errno = saved;
	return -1;
}

/*
 * write(2) on a descriptor that may be non-blocking: the count, -1 for
 * an error, or IO_AGAIN when it would block (poll for POLLOUT).
 */
ssize_t
io_write(int fd, const void *buf, size_t len)
{
	ssize_t	 r;

	while ((r = write(fd, buf, len)) == -1 && errno == EINTR)
		;
	if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return IO_AGAIN;
	return r;
}

/*
 * The full-write loop for a plain descriptor (the report, a log line, a
 * pipe), blocking or not: 0 once all of buf is written, -1 on an error
 * or when deadline passes.  conn_writeall() is the same over TLS.
 */
int
io_writeall(int fd, const void *buf, size_t len, long deadline)
{
	const char	*p = buf;
	ssize_t		 w;

	while (len > 0) {
		if ((w = io_write(fd, p, len)) == IO_AGAIN) {
			if (io_wait(fd, POLLOUT, deadline) != 1)
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}
