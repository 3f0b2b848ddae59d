/*
 * One side of an SMTP conversation that may switch to TLS half way: a
 * pair of descriptors (tcpserver's 0 and 1, or a socket twice) and, once
 * the handshake is done, a libtls context on top of them.  Reads and
 * writes never block; CONN_AGAIN says to poll (wfd, wev) or (rfd, rev).
 * A read returns 0 once the peer has closed its end, whether or not it
 * ended TLS first: on port 25 a client that just hangs up is ordinary.
 * Where the end of the data is the end of the stream (an HTTP body up
 * to the close), cut says it came without the TLS close_notify, so the
 * stream may have been cut short by someone on the path.
 */
#ifndef CONN_H
#define CONN_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define CONN_AGAIN	(-2)	/* read/write: poll, then try again */
#define CONN_TIMEOUT	(-3)	/* handshake: the deadline passed */

struct tls;

struct conn {
	int		 rfd;
	int		 wfd;
	struct tls	*tls;
	int		 rwaitfd;	/* what a read that said CONN_AGAIN waits for */
	short		 rwaitev;
	int		 wwaitfd;	/* likewise for a write */
	short		 wwaitev;
	size_t		 coff, clen;	/* ciphertext read ahead, for libtls */
	int		 cbs;		/* libtls does its I/O through us */
	int		 eof;		/* the peer closed its end */
	int		 cut;		/* ...with TLS, without a close_notify */
	int		 syserr;	/* errno of our last failed read or write */
};

void	conn_init(struct conn *c, int rfd, int wfd);
void	conn_attach(struct conn *c, int rfd, int wfd);
ssize_t	conn_read(struct conn *c, void *buf, size_t len);
ssize_t	conn_write(struct conn *c, const void *buf, size_t len);
int	conn_writeall(struct conn *c, const void *buf, size_t len,
	    long deadline);
ssize_t	conn_readahead(struct conn *c, long deadline, const uint8_t **data);
int	conn_accept(struct conn *c, struct tls *server, long deadline);
int	conn_connect(struct conn *c, struct tls *client,
	    const char *servername, long deadline);
void	conn_close(struct conn *c, long deadline);
int	conn_closed(struct conn *c);
const char *conn_error(struct conn *c);

#endif
