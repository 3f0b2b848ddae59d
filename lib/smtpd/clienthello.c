/*
 * A ClientHello's server_name extension (RFC 8446 4.1.2, RFC 6066 3),
 * from the first TLS record only: a hello split across records (rare, and
 * never for a plain SNI) is read as far as that record goes, and a name
 * beyond it is not seen, which means the default certificate.  Every
 * length is checked against what is left of the record; this is remote
 * input, read before any TLS library sees it.
 */
#include <sys/types.h>

#include <string.h>

#include "clienthello.h"
#include "conn.h"

#define RECORD_HANDSHAKE	22
#define HANDSHAKE_CLIENT_HELLO	1
#define EXT_SERVER_NAME		0
#define NAME_HOST		0

struct reader {
	const uint8_t	*p;
	size_t		 left;
	int		 short_read;	/* a length ran past the end */
};

static unsigned int
take(struct reader *r, size_t n)
{
	unsigned int	 v = 0;

	if (r->short_read || r->left < n) {
		r->short_read = 1;
		return 0;
	}
	while (n-- > 0) {
		v = v << 8 | *r->p++;
		r->left--;
	}
	return v;
}

static void
skip(struct reader *r, size_t n)
{
	if (r->short_read || r->left < n) {
		r->short_read = 1;
		return;
	}
	r->p += n;
	r->left -= n;
}

/* The part of r that the next length-prefixed field covers. */
static struct reader
field(struct reader *r, size_t lenbytes)
{
	struct reader	 in = { NULL, 0, 0 };
	size_t		 n = take(r, lenbytes);

	in.p = r->p;
	in.left = n;
	skip(r, n);
	in.short_read = r->short_read;
	return in;
}

/* The host_name of a server_name extension's body. */
static enum clienthello_sni
host_name(struct reader ext, char *name, size_t namelen)
{
	struct reader	 list, n;

	list = field(&ext, 2);
	while (!list.short_read && list.left > 0) {
		unsigned int type = take(&list, 1);

		n = field(&list, 2);
		if (n.short_read)
			break;
		if (type != NAME_HOST)
			continue;
		if (n.left == 0 || n.left >= namelen ||
		    memchr(n.p, '\0', n.left) != NULL)
			return CLIENTHELLO_NONE;
		memcpy(name, n.p, n.left);
		name[n.left] = '\0';
		return CLIENTHELLO_NAME;
	}
	return CLIENTHELLO_NONE;
}

/*
 * The server name that the TLS record at rec (len bytes read so far)
 * asks for, into name (namelen bytes, NUL included).  CLIENTHELLO_MORE until
 * the record is whole.
 */
enum clienthello_sni
clienthello_servername(const uint8_t *rec, size_t len, char *name, size_t namelen)
{
	struct reader	 r = { rec, len, 0 }, body, exts, ext;
	size_t		 reclen;

	if (len < 5)
		return len > 0 && rec[0] != RECORD_HANDSHAKE ? CLIENTHELLO_NONE :
		    CLIENTHELLO_MORE;
	if (rec[0] != RECORD_HANDSHAKE || rec[1] != 3)
		return CLIENTHELLO_NONE;
	reclen = (size_t)rec[3] << 8 | rec[4];
	if (5 + reclen > CLIENTHELLO_RECORD_MAX)
		return CLIENTHELLO_NONE;
	if (len < 5 + reclen)
		return CLIENTHELLO_MORE;
	skip(&r, 5);
	r.left = reclen;
	if (take(&r, 1) != HANDSHAKE_CLIENT_HELLO)
		return CLIENTHELLO_NONE;
	body = r;
	body.left = take(&body, 3);
	if (body.left > r.left - 3)	/* goes on in the next record */
		body.left = r.left - 3;
	skip(&body, 2 + 32);		/* legacy_version, random */
	field(&body, 1);		/* legacy_session_id */
	field(&body, 2);		/* cipher_suites */
	field(&body, 1);		/* legacy_compression_methods */
	exts = field(&body, 2);
	while (!exts.short_read && exts.left >= 4) {
		unsigned int type = take(&exts, 2);

		ext = field(&exts, 2);
		if (ext.short_read)
			break;
		if (type == EXT_SERVER_NAME)
			return host_name(ext, name, namelen);
	}
	return CLIENTHELLO_NONE;
}

/*
 * Before the handshake: the client's first TLS record read ahead on c
 * (where libtls will then read it from), and the server name it asks
 * for into name, "" for none.  0; -1 when the client closed or a read
 * failed; CONN_TIMEOUT.
 */
int
clienthello_read(struct conn *c, long deadline, char *name, size_t namelen)
{
	enum clienthello_sni	 r = CLIENTHELLO_MORE;
	const uint8_t		*rec;
	ssize_t			 n;

	while (r == CLIENTHELLO_MORE) {
		if ((n = conn_readahead(c, deadline, &rec)) < 0)
			return n == CONN_TIMEOUT ? CONN_TIMEOUT : -1;
		r = clienthello_servername(rec, (size_t)n, name, namelen);
	}
	if (r != CLIENTHELLO_NAME)
		name[0] = '\0';
	return 0;
}
