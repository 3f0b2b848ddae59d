/*
 * The key pair for the server name a client asks for, fetched for the
 * relay by the standby (child.h).  The relay learns the name only from
 * the client's hello, under a sandbox that opens no file; reading every
 * servercerts/<name>.pem before it, in case, would make every session
 * pay for every name a hosting MX serves.  The standby is forked before
 * the sandbox (and, when we start as root, before the privileges go), so
 * it can read the one file asked for.
 *
 * One request per session, over a socketpair: the relay sends the name,
 * NUL-ended, and shuts its side; the standby answers with the length of
 * the file (4 bytes, 0: none it can use) and its bytes, and closes.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "io.h"
#include "keyfetch.h"
#include "log.h"
#include "tlsconf.h"

#define KEYFETCH_MAX	(1024 * 1024)	/* a key pair file, at most */

/* The pair: fds[0] the relay's end (non-blocking), fds[1] the standby's. */
int
keyfetch_open(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1)
		return -1;
	io_cloexec(fds[0]);
	io_cloexec(fds[1]);
	io_nonblock(fds[0]);
	return 0;
}

/*
 * In the standby: answer the one request on fd, if the relay makes one
 * (EOF at once: the session needs no named key), and close it.  A file
 * that is there but cannot be used is logged here, where the reason is
 * known; no file is no news.  The file's bytes are wiped once sent.
 */
void
keyfetch_serve(int fd, const char *dir)
{
	char		*name, why[256];
	uint8_t		*pem = NULL;
	size_t		 n, len = 0;
	uint32_t	 hdr = 0;

	if (io_readall(fd, TLSCONF_NAME_MAX + 1, &name, &n) == 1 && n > 0 &&
	    name[n - 1] == '\0') {
		if (tlsconf_named_load(dir, name, &pem, &len, why,
		    sizeof(why)) == -1 && *why != '\0')
			log_info("unable to use servercerts/%s.pem: %s; "
			    "servercert.pem instead", name, why);
		else if (len > KEYFETCH_MAX)
			log_info("unable to use servercerts/%s.pem: over %d "
			    "bytes; servercert.pem instead", name,
			    KEYFETCH_MAX);
		else
			hdr = (uint32_t)len;
	}
	if (io_writeall(fd, &hdr, sizeof(hdr), io_now() + 10000) == 0 &&
	    hdr > 0)
		(void)io_writeall(fd, pem, len, io_now() + 10000);
	if (pem != NULL)
		tls_unload_file(pem, len);
	free(name);
	close(fd);
}

/* Exactly len bytes from fd by deadline: 0, or -1. */
static int
read_exactly(int fd, void *buf, size_t len, long deadline)
{
	ssize_t	 r;
	size_t	 got;

	for (got = 0; got < len; got += r)
		if ((r = io_read(fd, (char *)buf + got, len - got,
		    deadline)) <= 0) {
			if (r == 0)
				errno = EPIPE;
			return -1;
		}
	return 0;
}

/*
 * In the relay: servercerts/<name>.pem's bytes from the standby, into a
 * buffer for tls_unload_file().  1, 0 when the standby has none it can
 * use, or -1 with errno.  The request is the only one: fd is shut.
 */
int
keyfetch_get(int fd, const char *name, uint8_t **pem, size_t *len,
    long deadline)
{
	uint32_t	 hdr;

	*pem = NULL;
	*len = 0;
	if (io_writeall(fd, name, strlen(name) + 1, deadline) == -1 ||
	    shutdown(fd, SHUT_WR) == -1 ||
	    read_exactly(fd, &hdr, sizeof(hdr), deadline) == -1)
		return -1;
	if (hdr == 0)
		return 0;
	if (hdr > KEYFETCH_MAX) {
		errno = EFBIG;
		return -1;
	}
	if ((*pem = malloc(hdr)) == NULL)
		return -1;
	if (read_exactly(fd, *pem, hdr, deadline) == -1) {
		tls_unload_file(*pem, hdr);
		*pem = NULL;
		return -1;
	}
	*len = hdr;
	return 1;
}
