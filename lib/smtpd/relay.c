/*
 * The relay loop, all in one place.
 *
 * Four transfers, each with a fixed buffer: client -> fromclient ->
 * (proxy) -> toserver -> server, and server -> fromserver -> (proxy) ->
 * toclient -> client.  The server's pipes are a conn without TLS, so
 * every transfer is one fill() or drain().
 * Each transfer has a "ready" flag: it is tried whenever it has work and
 * the flag is set, and only a CONN_AGAIN/EAGAIN clears it; poll(2) sets
 * it again.  Trying before polling matters for TLS, where libtls may hold
 * decrypted bytes that poll cannot see.  The poll timeout is the idle
 * clock: it restarts whenever a byte moves.
 */
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "child.h"
#include "conn.h"
#include "io.h"
#include "log.h"
#include "proxy.h"
#include "relay.h"

/*
 * Client to server carries messages, so it gets room for several TLS
 * records per system call; replies are small.  Pages never touched cost
 * a session nothing.
 */
#define RELAY_UPSIZE	(256 * 1024)
#define RELAY_DOWNSIZE	(64 * 1024)

static char	fromclient_mem[RELAY_UPSIZE], toserver_mem[RELAY_UPSIZE];
static char	fromserver_mem[RELAY_DOWNSIZE], toclient_mem[RELAY_DOWNSIZE];

#define RELAY_GOING	(-1)	/* not ended: relay on */

/* What one read or write did. */
enum flow {
	FLOW_MOVED,		/* some bytes */
	FLOW_AGAIN,		/* none for now: poll */
	FLOW_EOF,		/* the other end is closed */
	FLOW_FAILED		/* an error; conn_error() says which */
};

/* One of the four transfers, and whether it is worth trying now. */
struct xfer {
	int	 ready;
	int	 fd;		/* what it polls for when not ready */
	short	 ev;
};

/* A session's relay: the client, the server behind us, four buffers. */
struct relay {
	struct conn	*client;
	struct conn	 server;	/* the server's pipes: a conn without TLS */
	struct child	*ch;
	struct proxy	*px;
	struct buf	 fromclient, toserver, fromserver, toclient;
	struct xfer	 clientin, clientout, serverin, serverout;
	int		 clientgone;	/* the client can no longer be written */
};

/* One read from c into b. */
static enum flow
fill(struct conn *c, struct buf *b)
{
	ssize_t	 r;

	r = conn_read(c, buf_tail(b), buf_room(b));
	if (r > 0) {
		buf_added(b, r);
		return FLOW_MOVED;
	}
	if (r == CONN_AGAIN)
		return FLOW_AGAIN;
	return r == 0 ? FLOW_EOF : FLOW_FAILED;
}

/* One write from b to c. */
static enum flow
drain(struct conn *c, struct buf *b)
{
	ssize_t	 r;

	r = conn_write(c, buf_data(b), b->len);
	if (r > 0) {
		buf_drop(b, r);
		return FLOW_MOVED;
	}
	return r == CONN_AGAIN ? FLOW_AGAIN : FLOW_FAILED;
}

/*
 * Client to fromclient, until it is full or the client has no more for
 * now: a TLS record is 16 KiB, and one write to the server per record
 * would cost a system call each.  Then the proxy decides what of it goes
 * to the server, and answers what it answers itself.
 */
static int
from_client(struct relay *r, relay_tls_fn *tlsready, void *arg)
{
	enum flow	 f = FLOW_MOVED;
	int		 moved = 0;

	while (r->clientin.ready && !r->clientgone && proxy_reading(r->px) &&
	    buf_room(&r->fromclient) > 0 &&
	    (f = fill(r->client, &r->fromclient)) == FLOW_MOVED)
		moved = 1;
	if (f == FLOW_AGAIN)
		r->clientin.ready = 0;
	else if (f != FLOW_MOVED) {
		if (f == FLOW_FAILED)
			log_info("client read failed: %s",
			    conn_error(r->client));
		proxy_clientgone(r->px);
		moved = 1;
	}
	proxy_client(r->px, &r->fromclient, &r->toserver, &r->toclient);
	if (proxy_tlswanted(r->px))
		proxy_tlsready(r->px, tlsready != NULL && tlsready(arg),
		    &r->toclient);
	if (proxy_clientended(r->px) && proxy_leftover(r->px, &r->fromclient))
		buf_drop(&r->fromclient, r->fromclient.len);
	return moved;
}

/* toserver to the server; its EOF once the client's is all passed on. */
static int
to_server(struct relay *r)
{
	enum flow	 f;
	int		 moved = 0;

	if (r->serverout.ready && r->toserver.len > 0 && r->ch->in != -1) {
		if ((f = drain(&r->server, &r->toserver)) == FLOW_MOVED)
			moved = 1;
		else if (f == FLOW_AGAIN)
			r->serverout.ready = 0;
		else
			child_closein(r->ch);	/* it stopped reading: exiting */
	}
	if (r->ch->in == -1)
		buf_drop(&r->toserver, r->toserver.len);
	if (proxy_clientended(r->px) && r->fromclient.len == 0 &&
	    r->toserver.len == 0 && r->ch->in != -1)
		child_closein(r->ch);	/* the server sees EOF too */
	return moved;
}

/* The server's replies to fromserver, and through the proxy to toclient. */
static int
from_server(struct relay *r)
{
	enum flow	 f;
	int		 moved = 0;

	if (r->serverin.ready && r->ch->out != -1 &&
	    proxy_listening(r->px) && buf_room(&r->fromserver) > 0) {
		if ((f = fill(&r->server, &r->fromserver)) == FLOW_MOVED)
			moved = 1;
		else if (f == FLOW_AGAIN)
			r->serverin.ready = 0;
		else {
			child_closeout(r->ch);
			proxy_childgone(r->px);
			moved = 1;
		}
	}
	proxy_child(r->px, &r->fromserver, &r->toclient);
	return moved;
}

/* toclient to the client; a client that cannot be written is gone. */
static int
to_client(struct relay *r)
{
	enum flow	 f;
	int		 moved = 0;

	if (r->clientout.ready && r->toclient.len > 0 && !r->clientgone) {
		if ((f = drain(r->client, &r->toclient)) == FLOW_MOVED)
			moved = 1;
		else if (f == FLOW_AGAIN)
			r->clientout.ready = 0;
		else {
			log_info("client write failed: %s",
			    conn_error(r->client));
			r->clientgone = 1;
			proxy_clientgone(r->px);
			moved = 1;
		}
	}
	if (r->clientgone)
		buf_drop(&r->toclient, r->toclient.len);
	return moved;
}

/* How the relay ends, once the client has every reply it is owed. */
static int
finished(const struct relay *r)
{
	if (r->toclient.len > 0)
		return RELAY_GOING;
	switch (proxy_next(r->px, r->fromserver.len)) {
	case PROXY_NEXT_STARTTLS:
		return RELAY_STARTTLS;
	case PROXY_NEXT_END:
		return r->clientgone ? RELAY_CLIENTGONE : RELAY_DONE;
	default:
		return RELAY_GOING;
	}
}

static void
want(struct pollfd *pfd, int *n, struct xfer *x, int fd, short ev)
{
	x->fd = fd;
	x->ev = ev;
	pfd[*n].fd = fd;
	pfd[*n].events = ev;
	pfd[*n].revents = 0;
	(*n)++;
}

static void
woken(struct pollfd *pfd, int n, struct xfer *x)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (pfd[i].fd == x->fd && pfd[i].events == x->ev &&
		    pfd[i].revents != 0)
			x->ready = 1;
}

/*
 * Nothing moved: poll for whatever is blocked, until deadline.
 * RELAY_GOING when something may move now, else how the relay ends.
 */
static int
wait_blocked(struct relay *r, long deadline)
{
	struct pollfd	 pfd[4];
	struct conn	*cl = r->client;
	int		 n = 0, left;

	if (!r->clientin.ready && !r->clientgone && proxy_reading(r->px) &&
	    buf_room(&r->fromclient) > 0)
		want(pfd, &n, &r->clientin, cl->rwaitfd, cl->rwaitev);
	if (!r->clientout.ready && r->toclient.len > 0 && !r->clientgone)
		want(pfd, &n, &r->clientout, cl->wwaitfd, cl->wwaitev);
	if (!r->serverout.ready && r->toserver.len > 0 && r->ch->in != -1)
		want(pfd, &n, &r->serverout, r->ch->in, POLLOUT);
	if (!r->serverin.ready && r->ch->out != -1 &&
	    proxy_listening(r->px) && buf_room(&r->fromserver) > 0)
		want(pfd, &n, &r->serverin, r->ch->out, POLLIN);
	if (n == 0)	/* nothing can ever move again */
		return r->clientgone ? RELAY_CLIENTGONE : RELAY_DONE;
	if ((left = (int)(deadline - io_now())) <= 0)
		return RELAY_TIMEOUT;
	if (poll(pfd, n, left) == -1) {
		if (errno == EINTR)
			return RELAY_GOING;
		log_info("poll failed: %s", strerror(errno));
		return RELAY_DONE;
	}
	woken(pfd, n, &r->clientin);
	woken(pfd, n, &r->clientout);
	woken(pfd, n, &r->serverout);
	woken(pfd, n, &r->serverin);
	return RELAY_GOING;
}

/*
 * Relay until the session ends, the client asks for TLS, or nothing
 * moves for idle_ms.  tlsready says whether TLS can be had when a
 * client asks (see relay.h).  A later call (after the handshake, with a
 * new server) starts with empty buffers.
 */
int
relay_run(struct conn *cl, struct child *ch, struct proxy *px, int idle_ms,
    relay_tls_fn *tlsready, void *arg)
{
	static struct relay	 r;
	long			 deadline;
	int			 moved, end;

	memset(&r, 0, sizeof(r));
	r.client = cl;
	r.ch = ch;
	r.px = px;
	conn_attach(&r.server, ch->out, ch->in);	/* non-blocking (child.c) */
	buf_init(&r.fromclient, fromclient_mem, sizeof(fromclient_mem));
	buf_init(&r.toserver, toserver_mem, sizeof(toserver_mem));
	buf_init(&r.fromserver, fromserver_mem, sizeof(fromserver_mem));
	buf_init(&r.toclient, toclient_mem, sizeof(toclient_mem));
	r.clientin.ready = r.clientout.ready = 1;
	r.serverin.ready = r.serverout.ready = 1;
	deadline = io_now() + idle_ms;

	for (;;) {
		moved = from_client(&r, tlsready, arg);
		moved |= to_server(&r);
		moved |= from_server(&r);
		moved |= to_client(&r);
		if ((end = finished(&r)) != RELAY_GOING)
			return end;
		if (moved)
			deadline = io_now() + idle_ms;
		else if ((end = wait_blocked(&r, deadline)) != RELAY_GOING)
			return end;
	}
}
