/*
 * loadgen: SMTP sessions as fast as a front will take them, for make bench.
 *
 *	loadgen [-T] [-v 1.2|1.3] [-C ciphers] [-S servername] [-V name]
 *	    [-n sessions] [-c concurrency] [-s bytes] [-m messages] [-z]
 *	    [-K certkey.pem] [-t seconds] [-d seconds] host port
 *
 * -d sizes the run by time instead of by -n: each worker starts sessions
 * until that many seconds have passed since the first one began (at least
 * one each), so that a round lasts as long on a fast machine as on a slow
 * one; sessions= then says how many ran.
 *
 * -m sends that many messages per session; -z makes their sizes vary
 * (200 bytes to -s) and gives each a header "X-Load: i j" (session,
 * message) and a body that follows from i and j, so that the receiving
 * side can check every message arrived once and intact
 * (tests/e2e/t_load.py builds the same bodies); -K presents a client
 * certificate in every odd session, which then relays to far@foreign.net.
 *
 * -S names that server in the TLS handshake (SNI; localhost by default),
 * so that a front with a certificate per server name serves that name's.
 * -V checks that the certificate the server sent is for that name (its
 * DNS names, or its CN when it has none, as X509_check_host(3) says;
 * the chain is not verified): a session that got another fails, and
 * mismatched= says how many did, so that a bench of named certificates
 * cannot be quietly served the default one.
 *
 * Every connect, read and write has a deadline (-t, 30 s by default):
 * a connection the server never saw (a SYN-cookie handshake whose last
 * ACK was dropped by a full accept queue) or a stalled session becomes a
 * failed session with its reason on stderr, never a hang.
 *
 * Each session: greeting, EHLO, (-T: STARTTLS, handshake, EHLO,) MAIL,
 * RCPT, DATA, a message of -s bytes, QUIT; every reply is checked.  The
 * sessions run in -c worker processes, each with one OpenSSL context for
 * all its sessions, so that the load generator takes little of the
 * machine the fronts are measured on; the parent gathers each session's
 * latency and prints one line of key=value figures; mbps is the message
 * bytes over the time spent in DATA alone (first byte to the 250), as
 * DATA MB/s is meant.  The message is CRLF
 * lines of printable bytes, none starting with '.', so it goes out as
 * it is; its checksum (sum of 64-bit little-endian words, the tail padded
 * with zeros) is printed so the receiving side can be checked.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static const char	*host, *port, *certkey;
static const char	*servername = "localhost", *wantname;
static char		 notfor[300];	/* -V: why a session failed */
static int		 starttls, nsessions = 100, conc = 4, nmsg = 1, mixed;
static size_t		 msgsize = 200;
static char		*msg;
static SSL_CTX		*ctx;

static int		 deadline = 30;	/* seconds, each connect, read, write */
static double		 duration;	/* -d: seconds of sessions, or 0 */

struct sess {
	int		 fd;
	SSL		*tls;
	char		 buf[65536];
	size_t		 off, len;
	const char	*stage;		/* what the session was doing */
	const char	*why;		/* why it failed */
};

/* Is the certificate the server sent for wantname?  (-V) */
static int
certfor(SSL *tls)
{
	X509	*cert;
	int	 ok;

	if ((cert = SSL_get_peer_certificate(tls)) == NULL)
		return 0;
	ok = X509_check_host(cert, wantname, strlen(wantname), 0, NULL) == 1;
	X509_free(cert);
	return ok;
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Why a read or write on s failed: its deadline, or the error. */
static const char *
lost(struct sess *s)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return "timed out";
	if (s->tls != NULL && errno == 0)
		return "TLS error";
	return strerror(errno);
}

static int
fill(struct sess *s)
{
	ssize_t	 r;

	for (;;) {
		errno = 0;
		if (s->tls != NULL)
			r = SSL_read(s->tls, s->buf, sizeof(s->buf));
		else
			r = read(s->fd, s->buf, sizeof(s->buf));
		if (r == -1 && s->tls == NULL && errno == EINTR)
			continue;
		if (r <= 0) {
			s->why = r == 0 ? "connection closed" : lost(s);
			return -1;
		}
		s->off = 0;
		s->len = (size_t)r;
		return 0;
	}
}

/* One whole reply; returns its code or -1. */
static int
reply(struct sess *s)
{
	char	 line[8];
	size_t	 n = 0;
	int	 c, code = -1;

	for (;;) {
		if (s->off == s->len && fill(s) == -1)
			return -1;
		c = (unsigned char)s->buf[s->off++];
		if (n < sizeof(line))
			line[n] = (char)c;
		n++;
		if (c != '\n')
			continue;
		if (n < 4) {
			s->why = "malformed reply";
			return -1;
		}
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		    (line[2] - '0');
		if (line[3] != '-')
			return code;
		n = 0;
	}
}

static int
put(struct sess *s, const char *p, size_t len)
{
	ssize_t	 w;

	while (len > 0) {
		errno = 0;
		if (s->tls != NULL)
			w = SSL_write(s->tls, p, len);
		else
			w = write(s->fd, p, len);
		if (w == -1 && s->tls == NULL && errno == EINTR)
			continue;
		if (w <= 0) {
			s->why = lost(s);
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
cmd(struct sess *s, const char *line, int want)
{
	int	 code;

	s->stage = line;
	if (put(s, line, strlen(line)) == -1 || (code = reply(s)) == -1)
		return -1;
	if (code != want) {
		s->why = "unexpected reply";
		return -1;
	}
	return 0;
}

static double	 datatime;	/* this worker's time in DATA, for MB/s */
static char	*mixbuf;

/* Message j of session i, for -z: see tests/e2e/t_load.py, which agrees. */
static size_t
mixmsg(int i, int j)
{
	size_t	 size, len, n;
	int	 line = 0;

	size = 200 + ((size_t)i * 7919 + (size_t)j * 104729) %
	    (msgsize > 200 ? msgsize - 200 + 1 : 1);
	len = (size_t)snprintf(mixbuf, 64, "X-Load: %d %d\r\n\r\n", i, j);
	while (len < size) {
		n = size - len > 78 ? 76 : size - len > 3 ? size - len - 2 : 1;
		memset(mixbuf + len, 'a' + (i + j + line) % 26, n);
		len += n;
		mixbuf[len++] = '\r';
		mixbuf[len++] = '\n';
		line++;
	}
	return len;
}

/* Session i: 0 if it went through, -1 if not, -2 if -V found the wrong
 * certificate. */
static int
session(int i)
{
	struct sess		 s;
	struct addrinfo		 hints, *ai;
	struct timeval		 tv = { deadline, 0 };
	double			 t;
	int			 one = 1, ok = -1, mismatch = 0, j;

	memset(&s, 0, sizeof(s));
	s.stage = "connect";
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	s.fd = socket(ai->ai_family, SOCK_STREAM, 0);
	/* the deadlines: on Linux SO_SNDTIMEO bounds connect(2) as well */
	if (s.fd == -1 ||
	    setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(s.fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		s.why = lost(&s);
		fprintf(stderr, "loadgen: session %d: connect: %s\n", i, s.why);
		freeaddrinfo(ai);
		if (s.fd != -1)
			close(s.fd);
		return -1;
	}
	freeaddrinfo(ai);
	setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s.stage = "greeting";
	if ((j = reply(&s)) == -1)
		goto done;
	if (j != 220) {
		s.why = "unexpected reply";
		goto done;
	}
	if (cmd(&s, "EHLO loadgen\r\n", 250) == -1)
		goto done;
	if (starttls) {
		if (cmd(&s, "STARTTLS\r\n", 220) == -1)
			goto done;
		if (s.off != s.len) {
			s.why = "plaintext after the 220";
			goto done;
		}
		s.stage = "TLS handshake";
		s.why = "failed";
		if ((s.tls = SSL_new(ctx)) == NULL ||
		    (certkey != NULL && i % 2 == 1 &&
		    (SSL_use_certificate_chain_file(s.tls, certkey) != 1 ||
		    SSL_use_PrivateKey_file(s.tls, certkey,
		    SSL_FILETYPE_PEM) != 1)) ||
		    SSL_set_fd(s.tls, s.fd) != 1 ||
		    SSL_set_tlsext_host_name(s.tls, servername) != 1 ||
		    SSL_connect(s.tls) != 1)
			goto done;
		s.why = NULL;
		if (wantname != NULL && !certfor(s.tls)) {
			s.why = notfor;
			mismatch = 1;
			goto done;
		}
		if (cmd(&s, "EHLO loadgen\r\n", 250) == -1)
			goto done;
	}
	for (j = 0; j < nmsg; j++) {
		const char	*body = msg;
		size_t		 len = msgsize;

		if (mixed) {
			len = mixmsg(i, j);
			body = mixbuf;
		}
		if (cmd(&s, "MAIL FROM:<load@gen.example>\r\n", 250) == -1 ||
		    cmd(&s, certkey != NULL && i % 2 == 1 ?
		    "RCPT TO:<far@foreign.net>\r\n" :
		    "RCPT TO:<sink@example.org>\r\n", 250) == -1 ||
		    cmd(&s, "DATA\r\n", 354) == -1)
			goto done;
		/* DATA MB/s: from the first byte of the message to the 250 */
		t = now();
		s.stage = "the message";
		if (put(&s, body, len) == -1 || cmd(&s, ".\r\n", 250) == -1)
			goto done;
		datatime += now() - t;
	}
	if (cmd(&s, "QUIT\r\n", 221) == -1)
		goto done;
	ok = 0;
 done:
	if (ok == -1) {
		/* the stage is the command line itself, CRLF and all */
		fprintf(stderr, "loadgen: session %d: %.*s: %s\n", i,
		    (int)strcspn(s.stage, "\r\n"), s.stage,
		    s.why != NULL ? s.why : "failed");
	}
	if (s.tls != NULL) {
		SSL_shutdown(s.tls);
		SSL_free(s.tls);
	}
	close(s.fd);
	return mismatch ? -2 : ok;
}

static int
cmpd(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen [-T] [-v 1.2|1.3] [-C ciphers] "
	    "[-S servername] [-V name] [-n sessions] [-c concurrency] "
	    "[-s bytes] [-m messages] [-z] [-K certkey.pem] [-t seconds] "
	    "[-d seconds] host port\n");
	exit(100);
}

int
main(int argc, char *argv[])
{
	const char	*ciphers = NULL, *version = "1.2";
	double		*lat, t0, t, sum, dsum = 0;
	uint64_t	 csum = 0, w;
	uint32_t	 protocols;
	size_t		 i, got = 0, nlat;
	pid_t		 pid;
	ssize_t		 r;
	int		 c, k, p[2], failed = 0, mismatched = 0, status;

	while ((c = getopt(argc, argv, "Tv:C:S:V:n:c:s:m:zK:t:d:")) != -1) {
		switch (c) {
		case 't': deadline = atoi(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 'm': nmsg = atoi(optarg); break;
		case 'z': mixed = 1; break;
		case 'K': certkey = optarg; break;
		case 'T': starttls = 1; break;
		case 'v': version = optarg; break;
		case 'C': ciphers = optarg; break;
		case 'S': servername = optarg; break;
		case 'V': wantname = optarg; break;
		case 'n': nsessions = atoi(optarg); break;
		case 'c': conc = atoi(optarg); break;
		case 's': msgsize = strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	argv += optind;
	if (argc - optind != 2 || nsessions < 1 || conc < 1 || msgsize < 2 ||
	    nmsg < 1 || deadline < 1 || duration < 0 ||
	    (wantname != NULL && !starttls))
		usage();
	if (wantname != NULL)
		snprintf(notfor, sizeof(notfor),
		    "the server's certificate is not for %s", wantname);
	if (duration > 0)
		nsessions = 0x7fffffff;	/* until the time is up */
	host = argv[0];
	port = argv[1];

	/* the message: lines of 78 letters, CRLF ended */
	if ((msg = malloc(msgsize + 8)) == NULL ||
	    (mixbuf = malloc(msgsize + 256)) == NULL)
		return 111;
	for (i = 0; i < msgsize; i++)
		msg[i] = (char)('a' + (i * 7 + i / 13) % 26);
	for (i = 78; i + 1 < msgsize; i += 80) {
		msg[i] = '\r';
		msg[i + 1] = '\n';
	}
	msg[msgsize - 2] = '\r';
	msg[msgsize - 1] = '\n';
	memset(msg + msgsize, 0, 8);
	for (i = 0; i < msgsize; i += 8) {
		memcpy(&w, msg + i, 8);
		csum += w;
	}

	/* no session resumption: every session pays a full handshake */
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return 111;
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	protocols = strcmp(version, "1.3") == 0 ? TLS1_3_VERSION :
	    TLS1_2_VERSION;
	if (SSL_CTX_set_min_proto_version(ctx, protocols) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, protocols) != 1 ||
	    (ciphers != NULL && SSL_CTX_set_cipher_list(ctx, ciphers) != 1)) {
		fprintf(stderr, "loadgen: bad TLS settings\n");
		return 100;
	}

	if (pipe(p) == -1)
		return 111;
	t0 = now();
	for (k = 0; k < conc; k++) {
		if ((pid = fork()) == -1)
			return 111;
		if (pid == 0) {
			close(p[0]);
			for (i = k; i < (size_t)nsessions; i += conc) {
				double	 rec[2];
				int	 v;

				if (duration > 0 && i >= (size_t)conc &&
				    now() - t0 >= duration)
					break;
				datatime = 0;
				t = now();
				/* the latency, or why not (session()) */
				v = session((int)i);
				rec[0] = v == 0 ? now() - t : v;
				rec[1] = datatime;
				if (write(p[1], rec, sizeof(rec)) != sizeof(rec))
					_exit(111);
			}
			_exit(0);
		}
	}
	close(p[1]);
	nlat = duration > 0 ? 1024 : (size_t)nsessions;
	if ((lat = calloc(nlat, sizeof(double))) == NULL)
		return 111;
	for (;;) {
		double	 rec[2];

		if (got == nlat) {
			if ((lat = realloc(lat, 2 * nlat * sizeof(double))) ==
			    NULL)
				return 111;
			nlat *= 2;
		}
		if (got + (size_t)failed == (size_t)nsessions ||
		    (r = read(p[0], rec, sizeof(rec))) != sizeof(rec))
			break;
		if (rec[0] < 0) {
			failed++;
			if (rec[0] == -2)
				mismatched++;
		} else {
			lat[got++] = rec[0];
			dsum += rec[1];
		}
	}
	t = now() - t0;
	while (wait(&status) > 0)
		;
	qsort(lat, got, sizeof(double), cmpd);
	for (sum = 0, i = 0; i < got; i++)
		sum += lat[i];
	printf("messages=%zu ", got * (size_t)nmsg);
	printf("sessions=%d ok=%zu failed=%d mismatched=%d seconds=%.3f "
	    "rate=%.2f p50_ms=%.2f p99_ms=%.2f mbps=%.2f bytes=%zu "
	    "checksum=%016llx\n",
	    (int)got + failed, got, failed, mismatched, t, got / t,
	    got ? lat[got / 2] * 1000 : 0,
	    got ? lat[(got * 99) / 100 < got ? (got * 99) / 100 : got - 1] *
	    1000 : 0, dsum > 0 ? got * (double)msgsize / dsum / 1e6 : 0, msgsize,
	    (unsigned long long)csum);
	return failed ? 1 : 0;
}
