/*
 * A connection that starts in plaintext and may continue over libtls on
 * the same descriptors (RFC 3207).  libtls's TLS_WANT_POLLIN/POLLOUT are
 * mapped onto the descriptor that libtls will actually use: reads go to
 * rfd, writes to wfd, whatever operation asked.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "conn.h"
#include "io.h"

/*
 * libtls reads a TLS record in two system calls (header, then body) and
 * cannot be told to read ahead; these callbacks give the server side the
 * socket's bytes from one large read instead, which halves the system
 * calls of a message transfer.  There is one TLS connection per process.
 * The client side (starttls-remote) reads only replies and keeps libtls's
 * own descriptor I/O: with these callbacks, LibreTLS 3.7's client
 * sometimes saw a TLS 1.3 connection end at its first read.
 */
static char	cipher[128 * 1024];

static ssize_t
conn_rcb(struct tls *t, void *buf, size_t len, void *arg)
{
	struct conn	*c = arg;
	ssize_t		 r;

	(void)t;
	if (c->coff == c->clen) {
		do
			r = read(c->rfd, cipher, sizeof(cipher));
		while (r == -1 && errno == EINTR);
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return TLS_WANT_POLLIN;
		if (r == 0)
			c->eof = 1;
		if (r == -1)
			c->syserr = errno;
		if (r <= 0)
			return r;
		c->coff = 0;
		c->clen = (size_t)r;
	}
	if (len > c->clen - c->coff)
		len = c->clen - c->coff;
	memcpy(buf, cipher + c->coff, len);
	c->coff += len;
	return (ssize_t)len;
}

static ssize_t
conn_wcb(struct tls *t, const void *buf, size_t len, void *arg)
{
	struct conn	*c = arg;
	ssize_t		 w;

	(void)t;
	do
		w = write(c->wfd, buf, len);
	while (w == -1 && errno == EINTR);
	if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return TLS_WANT_POLLOUT;
	if (w == -1)
		c->syserr = errno;
	return w;
}

/*
 * A conn over descriptors that are non-blocking already (the relay's
 * pipes to the server behind it, under a sandbox that forbids fcntl).
 */
void
conn_attach(struct conn *c, int rfd, int wfd)
{
	memset(c, 0, sizeof(*c));
	c->rfd = rfd;
	c->wfd = wfd;
	c->tls = NULL;
	c->rwaitfd = rfd;
	c->rwaitev = POLLIN;
	c->wwaitfd = wfd;
	c->wwaitev = POLLOUT;
}

void
conn_init(struct conn *c, int rfd, int wfd)
{
	conn_attach(c, rfd, wfd);
	io_nonblock(rfd);
	io_nonblock(wfd);
}

static int
conn_want(struct conn *c, ssize_t r, int *fd, short *ev)
{
	if (r == TLS_WANT_POLLIN) {
		*fd = c->rfd;
		*ev = POLLIN;
		return 1;
	}
	if (r == TLS_WANT_POLLOUT) {
		*fd = c->wfd;
		*ev = POLLOUT;
		return 1;
	}
	return 0;
}

/* >0 bytes read, 0 EOF, -1 error, CONN_AGAIN. */
ssize_t
conn_read(struct conn *c, void *buf, size_t len)
{
	ssize_t	 r;

	if (c->tls != NULL) {
		r = tls_read(c->tls, buf, len);
		if (conn_want(c, r, &c->rwaitfd, &c->rwaitev))
			return CONN_AGAIN;
		if (r == -1 && conn_closed(c)) {
			c->cut = 1;	/* gone without a close_notify */
			return 0;
		}
		return r;
	}
	for (;;) {
		r = read(c->rfd, buf, len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->rwaitfd = c->rfd;
			c->rwaitev = POLLIN;
			return CONN_AGAIN;
		}
		if (r == 0)
			c->eof = 1;
		if (r == -1)
			c->syserr = errno;	/* a reset: ECONNRESET */
		return r;
	}
}

/* >0 bytes written, -1 error, CONN_AGAIN. */
ssize_t
conn_write(struct conn *c, const void *buf, size_t len)
{
	ssize_t	 r;

	if (c->tls != NULL) {
		r = tls_write(c->tls, buf, len);
		if (conn_want(c, r, &c->wwaitfd, &c->wwaitev))
			return CONN_AGAIN;
		return r;
	}
	if ((r = io_write(c->wfd, buf, len)) == IO_AGAIN) {
		c->wwaitfd = c->wfd;
		c->wwaitev = POLLOUT;
		return CONN_AGAIN;
	}
	if (r == -1)
		c->syserr = errno;
	return r;
}

/*
 * The full-write loop that every blocking-style write goes through:
 * partial writes, EINTR, EAGAIN and libtls's wants are handled, and the
 * wait is bounded by a deadline.
 */
int
conn_writeall(struct conn *c, const void *buf, size_t len, long deadline)
{
	const char	*p = buf;
	ssize_t		 w;

	while (len > 0) {
		w = conn_write(c, p, len);
		if (w == CONN_AGAIN) {
			if (io_wait(c->wwaitfd, c->wwaitev, deadline) != 1)
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		len -= w;
	}
	return 0;
}

static int
conn_handshake(struct conn *c, long deadline)
{
	int	 r, fd;
	short	 ev;

	for (;;) {
		r = tls_handshake(c->tls);
		if (r == 0)
			return 0;
		if (!conn_want(c, r, &fd, &ev))
			return -1;
		if (io_wait(fd, ev, deadline) != 1) {
			if (errno == ETIMEDOUT)
				return CONN_TIMEOUT;
			return -1;
		}
	}
}

/*
 * Before the server side's handshake: more of the client's first bytes
 * read into the buffer libtls will then read from (conn_accept()), and
 * left there; *data gets all that was read ahead so far.  Its length, or
 * -1 when the client closed, a read failed or the buffer is full, or
 * CONN_TIMEOUT.  (starttls-smtpd reads the ClientHello's server name
 * this way, before choosing a certificate.)
 */
ssize_t
conn_readahead(struct conn *c, long deadline, const uint8_t **data)
{
	ssize_t	 n;

	*data = (const uint8_t *)cipher;
	for (;;) {
		if (c->clen == sizeof(cipher))
			return -1;
		n = read(c->rfd, cipher + c->clen, sizeof(cipher) - c->clen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (io_wait(c->rfd, POLLIN, deadline) == 1)
				continue;
			if (errno == ETIMEDOUT)
				return CONN_TIMEOUT;
		}
		if (n == 0)
			c->eof = 1;
		if (n == -1)
			c->syserr = errno;
		if (n <= 0)
			return -1;
		c->clen += (size_t)n;
		return (ssize_t)c->clen;
	}
}

/*
 * Server side of the handshake, after any conn_readahead().  Returns 0,
 * -1 on a TLS failure (see conn_error), CONN_TIMEOUT.
 */
int
conn_accept(struct conn *c, struct tls *server, long deadline)
{
	int	 r;

	c->cbs = 1;
	if (tls_accept_cbs(server, &c->tls, conn_rcb, conn_wcb, c) == -1)
		return -1;
	if ((r = conn_handshake(c, deadline)) != 0)
		return r;
	return 0;
}

/* Client side; the context comes configured from the caller. */
int
conn_connect(struct conn *c, struct tls *client, const char *servername,
    long deadline)
{
	if (tls_connect_fds(client, c->rfd, c->wfd, servername) == -1)
		return -1;
	c->tls = client;
	return conn_handshake(c, deadline);
}

/*
 * Has the peer closed its end?  Known for certain where we read: in
 * plaintext, and where libtls reads through us.  Only on the client side
 * with TLS, where libtls reads the socket itself, is the socket asked
 * (without taking anything from it).  Never in plaintext: the relay's
 * sandbox allows no recv(2), and a client's reset would kill it.
 */
int
conn_closed(struct conn *c)
{
	char	 b;

	if (!c->eof && c->tls != NULL && !c->cbs &&
	    recv(c->rfd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
		c->eof = 1;
	return c->eof;
}

/*
 * Why the last operation failed, in words that do not repeat the
 * caller's: "closed by the peer" when it was that, whatever the TLS
 * library makes of it; the system's error when our own read or write
 * failed; else libtls's reason without its "handshake failed: " (the
 * caller says what failed).
 */
const char *
conn_error(struct conn *c)
{
	static const char	*const ops[] = {
		"handshake failed: ", "read failed: ", "write failed: ",
		"close failed: ", "shutdown failed: ", NULL
	};
	const char		*e = NULL;
	size_t			 i, n;

	if (conn_closed(c))
		return "connection closed by the peer";
	if (c->syserr != 0)
		return strerror(c->syserr);
	if (c->tls != NULL)
		e = tls_error(c->tls);
	if (e == NULL)
		return "connection failed";
	for (i = 0; ops[i] != NULL; i++) {
		n = strlen(ops[i]);
		if (strncmp(e, ops[i], n) == 0 && e[n] != '\0')
			return e + n;
	}
	return e;
}

/*
 * Orderly end: a TLS close_notify if we have TLS, then our half of the
 * TCP connection, so that the peer sees EOF after the last reply.
 */
void
conn_close(struct conn *c, long deadline)
{
	int	 r, fd;
	short	 ev;

	if (c->tls != NULL) {
		while ((r = tls_close(c->tls)) != 0) {
			if (!conn_want(c, r, &fd, &ev) ||
			    io_wait(fd, ev, deadline) != 1)
				break;
		}
	}
	(void)shutdown(c->wfd, SHUT_WR);
}
