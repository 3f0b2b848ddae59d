/*
 * The relay loop, all in one place.
 *
 * Four transfers, each with a fixed buffer: client -> clin -> (proxy) ->
 * tochild -> server, and server -> chout -> (proxy) -> toclient -> client.
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

static char	clin_mem[RELAY_UPSIZE], tochild_mem[RELAY_UPSIZE];
static char	chout_mem[RELAY_DOWNSIZE], toclient_mem[RELAY_DOWNSIZE];

struct xfer {
	int	 ready;
	int	 fd;		/* what to poll for when not ready */
	short	 ev;
};

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
 * Relay until the session ends, the client asks for TLS, or nothing
 * moves for idle_ms.  tlsready says whether TLS can be had when a
 * client asks (see relay.h).  A later call (after the handshake, with a
 * new server) starts with empty buffers.
 */
int
relay_run(struct conn *cl, struct child *ch, struct proxy *px, int idle_ms,
    relay_tls_fn *tlsready, void *arg)
{
	struct buf	 clin, tochild, chout, toclient;
	struct xfer	 clr = { 1, -1, 0 }, clw = { 1, -1, 0 };
	struct xfer	 chr = { 1, -1, 0 }, chw = { 1, -1, 0 };
	struct pollfd	 pfd[4];
	long		 deadline;
	ssize_t		 r;
	int		 n, moved, clientgone = 0, left;

	buf_init(&clin, clin_mem, sizeof(clin_mem));
	buf_init(&tochild, tochild_mem, sizeof(tochild_mem));
	buf_init(&chout, chout_mem, sizeof(chout_mem));
	buf_init(&toclient, toclient_mem, sizeof(toclient_mem));
	deadline = io_now() + idle_ms;

	for (;;) {
		moved = 0;

		/*
		 * client -> clin, until it is full or the client has no more
		 * for now: a TLS record is 16 KiB, and one write to the
		 * server per record would cost a system call each.
		 */
		while (clr.ready && !clientgone && proxy_reading(px) &&
		    buf_room(&clin) > 0) {
			r = conn_read(cl, buf_tail(&clin), buf_room(&clin));
			if (r > 0) {
				buf_added(&clin, r);
				moved = 1;
				continue;
			} else if (r == CONN_AGAIN)
				clr.ready = 0;
			else {
				if (r == -1)
					log_info("client read failed: %s",
					    conn_error(cl));
				px->clienteof = 1;
				moved = 1;
			}
			break;
		}
		proxy_client(px, &clin, &tochild, &toclient);
		if (px->state == PROXY_TLSWANTED)
			proxy_tlsready(px, tlsready != NULL && tlsready(arg),
			    &toclient);
		if (px->clienteof && proxy_leftover(px, &clin))
			buf_drop(&clin, clin.len);

		/* tochild -> server */
		if (chw.ready && tochild.len > 0 && ch->in != -1) {
			r = write(ch->in, buf_data(&tochild), tochild.len);
			if (r > 0) {
				buf_drop(&tochild, r);
				moved = 1;
			} else if (r == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK || errno == EINTR))
				chw.ready = 0;
			else {
				/* the server stopped reading: it is exiting */
				child_closein(ch);
				buf_drop(&tochild, tochild.len);
			}
		}
		if (ch->in == -1)
			buf_drop(&tochild, tochild.len);
		if (px->clienteof && clin.len == 0 && tochild.len == 0 &&
		    ch->in != -1)
			child_closein(ch);	/* the server sees EOF too */

		/* server -> chout */
		if (chr.ready && ch->out != -1 && proxy_listening(px) &&
		    buf_room(&chout) > 0) {
			r = read(ch->out, buf_tail(&chout), buf_room(&chout));
			if (r > 0) {
				buf_added(&chout, r);
				moved = 1;
			} else if (r == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK || errno == EINTR))
				chr.ready = 0;
			else {
				child_closeout(ch);
				px->childeof = 1;
				moved = 1;
			}
		}
		proxy_child(px, &chout, &toclient);

		/* toclient -> client */
		if (clw.ready && toclient.len > 0 && !clientgone) {
			r = conn_write(cl, buf_data(&toclient), toclient.len);
			if (r > 0) {
				buf_drop(&toclient, r);
				moved = 1;
			} else if (r == CONN_AGAIN)
				clw.ready = 0;
			else {
				log_info("client write failed: %s",
				    conn_error(cl));
				clientgone = 1;
				px->clienteof = 1;
				moved = 1;
			}
		}
		if (clientgone)
			buf_drop(&toclient, toclient.len);

		if (toclient.len == 0) {
			if (px->state == PROXY_STARTTLS)
				return RELAY_STARTTLS;
			if (px->state == PROXY_END ||
			    (px->childeof && chout.len == 0))
				return clientgone ? RELAY_CLIENTGONE : RELAY_DONE;
			if (px->clienteof && px->state == PROXY_REFUSED)
				return RELAY_DONE;
		}
		if (moved) {
			deadline = io_now() + idle_ms;
			continue;
		}

		/* nothing moved: wait for whatever is blocked */
		n = 0;
		if (!clr.ready && !clientgone && proxy_reading(px) &&
		    buf_room(&clin) > 0)
			want(pfd, &n, &clr, cl->rwaitfd, cl->rwaitev);
		if (!clw.ready && toclient.len > 0 && !clientgone)
			want(pfd, &n, &clw, cl->wwaitfd, cl->wwaitev);
		if (!chw.ready && tochild.len > 0 && ch->in != -1)
			want(pfd, &n, &chw, ch->in, POLLOUT);
		if (!chr.ready && ch->out != -1 && proxy_listening(px) &&
		    buf_room(&chout) > 0)
			want(pfd, &n, &chr, ch->out, POLLIN);
		if (n == 0) {
			/* nothing can ever move again */
			return clientgone ? RELAY_CLIENTGONE : RELAY_DONE;
		}
		left = (int)(deadline - io_now());
		if (left <= 0)
			return RELAY_TIMEOUT;
		if (poll(pfd, n, left) == -1) {
			if (errno == EINTR)
				continue;
			log_info("poll failed: %s", strerror(errno));
			return RELAY_DONE;
		}
		woken(pfd, n, &clr);
		woken(pfd, n, &clw);
		woken(pfd, n, &chw);
		woken(pfd, n, &chr);
	}
}
