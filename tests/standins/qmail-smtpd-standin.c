/*
 * qmail-smtpd-standin: a test double for notqmail's qmail-smtpd.
 *
 * It speaks SMTP on stdin/stdout as notqmail's qmail-smtpd does: the same
 * command parser (commands.c), reply texts, output buffering and flush
 * points, DATA state machine (blast()), Received line (received.c), and
 * control-file and environment handling, and runs the queue program as
 * qmail.c does: $QMAILQUEUE or bin/qmail-queue, by execv() in the qmail
 * home, the message on a pipe to its fd 0 and the envelope on one to its
 * fd 1, its exit code told as qmail_close() tells it.  The tests install
 * tests/standins/qmail-queue-standin.c as bin/qmail-queue, which records
 * what it would have queued.
 *
 * Interface (no arguments):
 *	$STANDIN_HOME	fake qmail home (default /var/qmail); control/me,
 *			smtpgreeting, rcpthosts, databytes, timeoutsmtpd and
 *			localiphost are read below it, as qmail does.
 *	$STANDIN_RECORD	directory for records (unset: record nothing):
 *			<pid>.env	environment at start, VAR=value lines
 *			<pid>.in	every byte read from stdin, raw
 *			<pid>.exit	exit code (143: ended by SIGTERM)
 *			All but .in appear by rename(2).  An unopenable
 *			directory means exit 111.
 *	TCPLOCALIP, TCPLOCALHOST, TCPREMOTEIP, TCPREMOTEHOST, TCPREMOTEINFO,
 *	RELAYCLIENT, DATABYTES, QMAILQUEUE as for qmail-smtpd.
 *
 * Deliberate simplifications:
 *	- no badmailfrom, no morercpthosts.cdb;
 *	- fork() where qmail.c has vfork();
 *	- for control/localiphost, "my addresses" are 0.0.0.0, 127.0.0.1 and
 *	  $TCPLOCALIP rather than every interface address.
 */

#include <sys/types.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXHOPS		100
#define OUTCHUNK	8192	/* substdio's SUBSTDIO_OUTSIZE */

extern char **environ;

struct buf {
	char	*s;
	size_t	 len;
	size_t	 cap;
};

static int	 timeout = 1200;
static unsigned int databytes, bytestooverflow;
static struct buf greeting, liphost, rcpthosts, helohost, addr, mailfrom;
static struct buf rcptto, line;
static int	 liphostok, flagrh, seenmail;
static const char *remoteip, *remotehost, *remoteinfo, *local;
static const char *relayclient, *fakehelo;

static char	 outbuf[512], inbuf[1024];
static size_t	 outlen, inpos, inlen;
static int	 recfd = -1, infd = -1;
static long	 pid;
static const char *home;

/* struct qmail: the queue program, its two pipes and qmail_put()'s buffer */
static struct {
	pid_t	 pid;
	int	 fdm;		/* the message, to its fd 0 */
	int	 fde;		/* the envelope, to its fd 1 */
	int	 fd;		/* the one being written */
	int	 flagerr;
	char	 buf[1024];
	size_t	 len;
} qq;

static int
writeall(int fd, const char *s, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, s, len)) == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Write a record file under a temporary name, then rename it. */
static int
rec_write(const char *name, const char *s, size_t len)
{
	char tmp[96];
	int fd;

	if (recfd == -1)
		return 0;
	snprintf(tmp, sizeof(tmp), ".tmp.%s", name);
	if ((fd = openat(recfd, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) ==
	    -1)
		return -1;
	if (writeall(fd, s, len) == -1 || close(fd) == -1 ||
	    renameat(recfd, tmp, recfd, name) == -1) {
		unlinkat(recfd, tmp, 0);
		return -1;
	}
	return 0;
}

/* Every exit goes through here, so that <pid>.exit is always written. */
static void
leave(int code)
{
	char name[64], s[16];

	snprintf(name, sizeof(name), "%ld.exit", pid);
	snprintf(s, sizeof(s), "%d\n", code);
	rec_write(name, s, strlen(s));
	_exit(code);
}

/*
 * SIGTERM, which starttls-smtpd sends a server that has not exited within
 * its grace after its input ended (a machine so loaded that the stand-in
 * was not scheduled in time): ended all the same, so recorded, as 143.
 * rec_write() uses only system calls and snprintf() on its own buffers.
 */
static void
terminated(int sig)
{
	(void)sig;
	leave(128 + SIGTERM);
}

/* timeoutread()/timeoutwrite(): wait up to timeout seconds, then once. */
static ssize_t
timedio(int fd, int forwrite, char *s, size_t len)
{
	struct timeval tv;
	fd_set fds;
	ssize_t r;

	for (;;) {
		FD_ZERO(&fds);
		FD_SET(fd, &fds);
		tv.tv_sec = timeout;
		tv.tv_usec = 0;
		r = select(fd + 1, forwrite ? NULL : &fds,
		    forwrite ? &fds : NULL, NULL, &tv);
		if (r == 0)
			errno = ETIMEDOUT;
		if (r == 0 || (r == -1 && errno != EINTR))
			return -1;
		if (r == -1)
			continue;
		r = forwrite ? write(fd, s, len) : read(fd, s, len);
		if (r != -1 || (errno != EINTR && errno != EAGAIN))
			return r;
	}
}

/* safewrite() under substdio's allwrite(): any failure ends it all. */
static void
outwrite(const char *s, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = timedio(1, 1, (char *)s, len)) <= 0)
			leave(1);
		s += w;
		len -= (size_t)w;
	}
}

static void
flush(void)
{
	size_t n = outlen;

	outlen = 0;
	outwrite(outbuf, n);
}

/* substdio_put(): flush if it does not fit, big pieces go straight out. */
static void
outb(const char *s, size_t len)
{
	size_t n;

	if (len > sizeof(outbuf) - outlen) {
		flush();
		while (len > sizeof(outbuf)) {
			n = len < OUTCHUNK ? len : OUTCHUNK;
			outwrite(s, n);
			s += n;
			len -= n;
		}
	}
	if (len > 0)
		memcpy(outbuf + outlen, s, len);
	outlen += len;
}

static void
out(const char *s)
{
	outb(s, strlen(s));
}

static void
die_msg(const char *s)
{
	out(s);
	flush();
	leave(1);
}

#define die_nomem()	die_msg("421 out of memory (#4.3.0)\r\n")
#define die_control()	die_msg("421 unable to read controls (#4.3.0)\r\n")

static void
buf_add(struct buf *b, const char *s, size_t len)
{
	size_t cap = b->cap ? b->cap : 64;
	char *n;

	while (len > cap - b->len) {
		if (cap > ((size_t)-1) / 2)
			die_nomem();
		cap *= 2;
	}
	if (cap != b->cap) {
		if ((n = realloc(b->s, cap)) == NULL)
			die_nomem();
		b->s = n;
		b->cap = cap;
	}
	if (len > 0)
		memcpy(b->s + b->len, s, len);
	b->len += len;
}

static void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

/* substdio_get() of one byte over saferead(): 1 KiB reads, flush first. */
static char
getch(void)
{
	ssize_t r;

	if (inpos == inlen) {
		flush();
		r = timedio(0, 0, inbuf, sizeof(inbuf));
		if (r == -1 && errno == ETIMEDOUT)
			die_msg("451 timeout (#4.4.2)\r\n");
		if (r <= 0)
			leave(1);	/* die_read(): EOF, silently */
		if (infd != -1)
			writeall(infd, inbuf, (size_t)r);
		inpos = 0;
		inlen = (size_t)r;
	}
	return inbuf[inpos++];
}

/* case_diffs(): ASCII-only case folding; 0 when equal. */
static int
case_diffs(const char *s, const char *t)
{
	unsigned char x, y;

	do {
		x = (unsigned char)*s++;
		y = (unsigned char)*t++;
		x += (x >= 'A' && x <= 'Z') ? 'a' - 'A' : 0;
		y += (y >= 'A' && y <= 'Z') ? 'a' - 'A' : 0;
	} while (x == y && x != 0);
	return x != y;
}

static size_t
striptrailing(const char *s, size_t len)
{
	while (len > 0 && strchr("\n \t", s[len - 1]) && s[len - 1] != '\0')
		len--;
	return len;
}

/*
 * control_readline() (first line only) or control_readfile() (all
 * non-empty, non-# lines, each ending in NUL): 1, 0 if missing, -1.
 */
static int
control_read(const char *fn, struct buf *b, int all)
{
	struct buf raw = { NULL, 0, 0 };
	size_t i, j, n;
	ssize_t r;
	char s[512];
	int fd;

	b->len = 0;
	if ((fd = open(fn, O_RDONLY | O_NONBLOCK)) == -1)
		return errno == ENOENT ? 0 : -1;
	buf_add(&raw, "", 0);
	while ((r = read(fd, s, sizeof(s))) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			close(fd);
			free(raw.s);
			return -1;
		}
		buf_add(&raw, s, (size_t)r);
	}
	close(fd);
	for (i = 0; i < raw.len || (i == 0 && !all); i = j + 1) {
		for (j = i; j < raw.len && raw.s[j] != '\n'; j++)
			;
		n = striptrailing(raw.s + i, j - i);
		if (!all) {
			buf_add(b, raw.s + i, n);
			break;
		}
		if (n > 0 && raw.s[i] != '#') {
			buf_add(b, raw.s + i, n);
			buf_addc(b, '\0');
		}
	}
	free(raw.s);
	return 1;
}

static unsigned long
scan_ulong(const char *s, size_t *pos)
{
	unsigned long u = 0;

	for (*pos = 0; s[*pos] >= '0' && s[*pos] <= '9'; (*pos)++)
		u = u * 10 + (unsigned long)(s[*pos] - '0');
	return u;
}

/* control_readint(): 1 and *u set; 0 if missing or not a number. */
static int
control_readint(const char *fn, unsigned long *u)
{
	struct buf b = { NULL, 0, 0 };
	size_t pos;
	int r;

	if ((r = control_read(fn, &b, 0)) == 1) {
		buf_addc(&b, '\0');
		*u = scan_ulong(b.s, &pos);
		r = pos > 0;
	}
	free(b.s);
	return r;
}

static void
dohelo(const char *arg)
{
	helohost.len = 0;
	buf_adds(&helohost, arg);
	buf_addc(&helohost, '\0');
	fakehelo = case_diffs(remotehost, helohost.s) ? helohost.s : NULL;
}

static void
setup(void)
{
	struct buf me = { NULL, 0, 0 };
	unsigned long u;
	const char *x;
	size_t pos;
	int meok, r;

	/* control_init(), then control_rldef() falling back to "me" */
	if ((meok = control_read("control/me", &me, 0)) == -1)
		die_control();
	if ((r = control_read("control/smtpgreeting", &greeting, 0)) == 0 &&
	    meok) {
		buf_add(&greeting, me.s, me.len);
		r = 1;
	}
	if (r != 1)
		die_control();
	liphostok = control_read("control/localiphost", &liphost, 0);
	if (liphostok == 0 && meok) {
		buf_add(&liphost, me.s, me.len);
		liphostok = 1;
	}
	if (liphostok == -1)
		die_control();
	if ((r = control_readint("control/timeoutsmtpd", &u)) == -1)
		die_control();
	if (r == 1)
		timeout = (int)u;
	if (timeout <= 0)
		timeout = 1;
	if ((flagrh = control_read("control/rcpthosts", &rcpthosts, 1)) == -1)
		die_control();
	/* badmailfrom and morercpthosts.cdb: not implemented */
	if ((r = control_readint("control/databytes", &u)) == -1)
		die_control();
	if (r == 1)
		databytes = (unsigned int)u;
	if ((x = getenv("DATABYTES")) != NULL)
		databytes = (unsigned int)scan_ulong(x, &pos);
	if (!(databytes + 1))
		--databytes;

	if ((remoteip = getenv("TCPREMOTEIP")) == NULL)
		remoteip = "unknown";
	if ((local = getenv("TCPLOCALHOST")) == NULL &&
	    (local = getenv("TCPLOCALIP")) == NULL)
		local = "unknown";
	if ((remotehost = getenv("TCPREMOTEHOST")) == NULL)
		remotehost = "unknown";
	remoteinfo = getenv("TCPREMOTEINFO");
	relayclient = getenv("RELAYCLIENT");
	dohelo(remotehost);
	free(me.s);
}

/* ip_scan(): four dotted decimal numbers, each truncated to a byte. */
static size_t
ip_scan(const char *s, unsigned char ip[4])
{
	size_t i, len = 0;
	int k;

	for (k = 0; k < 4; k++) {
		if (k > 0 && s[len++] != '.')
			return 0;
		ip[k] = (unsigned char)scan_ulong(s + len, &i);
		if (i == 0)
			return 0;
		len += i;
	}
	return len;
}

static int
ipme_is(const unsigned char ip[4])
{
	unsigned char me[4];
	const char *x;

	if (!memcmp(ip, "\0\0\0\0", 4) || !memcmp(ip, "\177\0\0\1", 4))
		return 1;
	x = getenv("TCPLOCALIP");
	return x != NULL && ip_scan(x, me) > 0 && !memcmp(ip, me, 4);
}

/* addrparse(): addr becomes a C string; addr.len counts its NUL. */
static int
addrparse(const char *arg)
{
	unsigned char ip[4];
	const char *p;
	char c, terminator = '>';
	int flagesc = 0, flagquoted = 0;
	size_t i, n;

	if ((p = strchr(arg, '<')) != NULL)
		arg = p + 1;
	else {			/* partner should go read rfc 821 */
		terminator = ' ';
		arg += strcspn(arg, ":");
		if (*arg == ':')
			arg++;
		while (*arg == ' ')
			arg++;
	}
	if (*arg == '@')	/* strip source route */
		while (*arg)
			if (*arg++ == ':')
				break;
	addr.len = 0;
	for (; (c = *arg) != '\0'; arg++) {
		if (flagesc) {
			buf_addc(&addr, c);
			flagesc = 0;
		} else if (!flagquoted && c == terminator)
			break;
		else if (c == '\\')
			flagesc = 1;
		else if (c == '"')
			flagquoted = !flagquoted;
		else
			buf_addc(&addr, c);
	}
	buf_addc(&addr, '\0');

	/* user@[my.ip] becomes user@localiphost (ip_scanbracket()) */
	if (liphostok && (p = strrchr(addr.s, '@')) != NULL && p[1] == '[' &&
	    (n = ip_scan(p + 2, ip)) > 0 && p[n + 2] == ']' &&
	    p[n + 3] == '\0' && ipme_is(ip)) {
		i = (size_t)(p - addr.s) + 1;
		addr.len = i;
		buf_add(&addr, liphost.s, liphost.len);
		buf_addc(&addr, '\0');
	}
	return addr.len <= 900;
}

/* rcpthosts(): the domain or any ".suffix" of it listed, any case. */
static int
addrallowed(void)
{
	const char *at, *host, *key;
	size_t i, len;

	if (flagrh != 1 || (at = strrchr(addr.s, '@')) == NULL)
		return 1;
	host = at + 1;
	len = strlen(host);
	for (i = 0; i < len; i++) {
		if (i > 0 && host[i] != '.')
			continue;
		for (key = rcpthosts.s; key < rcpthosts.s + rcpthosts.len;
		    key += strlen(key) + 1)
			if (strlen(key) == len - i &&
			    !case_diffs(key, host + i))
				return 1;
	}
	return 0;
}

static void
smtp_greet(const char *code)
{
	out(code);
	outb(greeting.s, greeting.len);
}

static void
smtp_helo(char *arg)
{
	smtp_greet("250 ");
	out("\r\n");
	seenmail = 0;
	dohelo(arg);
}

static void
smtp_ehlo(char *arg)
{
	smtp_greet("250-");
	out("\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
	seenmail = 0;
	dohelo(arg);
}

static void
smtp_quit(char *arg)
{
	(void)arg;
	smtp_greet("221 ");
	out("\r\n");
	flush();
	leave(0);
}

static void
smtp_rset(char *arg)
{
	(void)arg;
	seenmail = 0;
	out("250 flushed\r\n");
}

static void
smtp_mail(char *arg)
{
	if (!addrparse(arg)) {
		out("555 syntax error (#5.5.4)\r\n");
		return;
	}
	seenmail = 1;
	rcptto.len = 0;
	mailfrom.len = 0;
	buf_adds(&mailfrom, addr.s);
	buf_addc(&mailfrom, '\0');
	out("250 ok\r\n");
}

static void
smtp_rcpt(char *arg)
{
	if (!seenmail) {
		out("503 MAIL first (#5.5.1)\r\n");
		return;
	}
	if (!addrparse(arg)) {
		out("555 syntax error (#5.5.4)\r\n");
		return;
	}
	if (relayclient != NULL) {
		addr.len--;
		buf_adds(&addr, relayclient);
		buf_addc(&addr, '\0');
	} else if (!addrallowed()) {
		out("553 sorry, that domain isn't in my list of allowed "
		    "rcpthosts (#5.7.1)\r\n");
		return;
	}
	buf_addc(&rcptto, 'T');
	buf_adds(&rcptto, addr.s);
	buf_addc(&rcptto, '\0');
	out("250 ok\r\n");
}

/* qmail.c's fd_move(): to becomes from, from is closed */
static int
fd_move(int to, int from)
{
	if (to == from)
		return 0;
	if (dup2(from, to) == -1)
		return -1;
	close(from);
	return 0;
}

/* qmail_open() */
static int
qmail_open(void)
{
	char	*argv[2] = { "bin/qmail-queue", NULL };
	int	 pim[2], pie[2];

	if (pipe(pim) == -1)
		return -1;
	if (pipe(pie) == -1) {
		close(pim[0]);
		close(pim[1]);
		return -1;
	}
	switch (qq.pid = fork()) {
	case -1:
		close(pim[0]);
		close(pim[1]);
		close(pie[0]);
		close(pie[1]);
		return -1;
	case 0:
		close(pim[1]);
		close(pie[1]);
		if (fd_move(0, pim[0]) == -1)
			_exit(120);
		if (fd_move(1, pie[0]) == -1)
			_exit(120);
		if (chdir(home) == -1)
			_exit(61);
		if (getenv("QMAILQUEUE") != NULL)
			argv[0] = getenv("QMAILQUEUE");
		execv(argv[0], argv);
		_exit(120);
	}
	qq.fdm = pim[1];
	close(pim[0]);
	qq.fde = pie[1];
	close(pie[0]);
	qq.fd = qq.fdm;
	qq.len = 0;
	qq.flagerr = 0;
	return 0;
}

/* substdio_flush() on the pipe being written */
static int
qflush(void)
{
	int r = writeall(qq.fd, qq.buf, qq.len);

	qq.len = 0;
	return r;
}

/* qmail_put(): substdio_put(), nothing once it failed */
static void
qput(const char *s, size_t len)
{
	if (qq.flagerr)
		return;
	if (len > sizeof(qq.buf) - qq.len) {
		if (qflush() == -1) {
			qq.flagerr = 1;
			return;
		}
		if (len > sizeof(qq.buf)) {
			if (writeall(qq.fd, s, len) == -1)
				qq.flagerr = 1;
			return;
		}
	}
	memcpy(qq.buf + qq.len, s, len);
	qq.len += len;
}

/* qmail_from(): the message is over, the envelope begins */
static void
qmail_from(const char *s)
{
	if (qflush() == -1)
		qq.flagerr = 1;
	close(qq.fdm);
	qq.fd = qq.fde;
	qput("F", 1);
	qput(s, strlen(s));
	qput("", 1);
}

/* qmail_close(): "" when queued, else Z or D and the text */
static const char *
qmail_close(void)
{
	int wstat, exitcode;

	qput("", 1);
	if (!qq.flagerr && qflush() == -1)
		qq.flagerr = 1;
	close(qq.fde);
	while (waitpid(qq.pid, &wstat, 0) == -1)
		if (errno != EINTR)
			return "Zqq waitpid surprise (#4.3.0)";
	if (WIFSIGNALED(wstat))
		return "Zqq crashed (#4.3.0)";
	exitcode = WEXITSTATUS(wstat);
	switch (exitcode) {
	case 115:
	case 11: return "Denvelope address too long for qq (#5.1.3)";
	case 31: return "Dmail server permanently rejected message (#5.3.0)";
	case 51: return "Zqq out of memory (#4.3.0)";
	case 52: return "Zqq timeout (#4.3.0)";
	case 53: return "Zqq write error or disk full (#4.3.0)";
	case 0: if (!qq.flagerr) return "";
		/* FALLTHROUGH */
	case 54: return "Zqq read error (#4.3.0)";
	case 55: return "Zqq unable to read configuration (#4.3.0)";
	case 56: return "Zqq trouble making network connection (#4.3.0)";
	case 61: return "Zqq trouble in home directory (#4.3.0)";
	case 63:
	case 64:
	case 65:
	case 66:
	case 62: return "Zqq trouble creating files in queue (#4.3.0)";
	case 71: return "Zmail server temporarily rejected message (#4.3.0)";
	case 72: return "Zconnection to mail server timed out (#4.4.1)";
	case 73: return "Zconnection to mail server rejected (#4.4.1)";
	case 74: return "Zcommunication with mail server failed (#4.4.2)";
	case 91:
	case 81: return "Zqq internal bug (#4.3.0)";
	case 120: return "Zunable to exec qq (#4.3.0)";
	default:
		if (exitcode >= 11 && exitcode <= 40)
			return "Dqq permanent problem (#5.3.0)";
		return "Zqq temporary problem (#4.3.0)";
	}
}

static void
put(char c)
{
	if (bytestooverflow && !--bytestooverflow)
		qq.flagerr = 1;		/* qmail_fail() */
	qput(&c, 1);
}

static void
safeput(struct buf *b, const char *s)
{
	unsigned char c;

	for (; (c = (unsigned char)*s) != '\0'; s++)
		buf_addc(b, ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr(".@%+/=:-", c)) ?
		    (char)c : '?');
}

/* received(): "Received: from host (HELO h) (info@ip)\n  by ...; date" */
static void
received(void)
{
	static const char mon[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct buf b = { NULL, 0, 0 };
	char date[64];
	struct tm tm;
	time_t t;

	buf_adds(&b, "Received: from ");
	safeput(&b, remotehost);
	if (fakehelo != NULL) {
		buf_adds(&b, " (HELO ");
		safeput(&b, fakehelo);
		buf_adds(&b, ")");
	}
	buf_adds(&b, " (");
	if (remoteinfo != NULL) {
		safeput(&b, remoteinfo);
		buf_adds(&b, "@");
	}
	safeput(&b, remoteip);
	buf_adds(&b, ")\n  by ");
	safeput(&b, local);
	buf_adds(&b, " with SMTP; ");
	t = time(NULL);
	gmtime_r(&t, &tm);
	snprintf(date, sizeof(date), "%d %.3s %d %02d:%02d:%02d -0000\n",
	    tm.tm_mday, mon + 3 * tm.tm_mon, tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	buf_adds(&b, date);
	qput(b.s, b.len);
	free(b.s);
}

/* blast(): unstuff dots, store CRLF as LF, refuse bare LF, count hops. */
static int
blast(void)
{
	int state = 1, hops = 0, inheader = 1, pos = 0;
	int maybex = 1, maybey = 1, maybez = 1;
	char c;

	for (;;) {
		c = getch();
		if (inheader && pos < 9) {
			if (c != "delivered"[pos] && c != "DELIVERED"[pos])
				maybez = 0;
			if (maybez && pos == 8)
				hops++;
			if (pos < 8 && c != "received"[pos] &&
			    c != "RECEIVED"[pos])
				maybex = 0;
			if (maybex && pos == 7)
				hops++;
			if (pos < 2 && c != "\r\n"[pos])
				maybey = 0;
			if (maybey && pos == 1)
				inheader = 0;
			pos++;
		}
		if (c == '\n') {
			pos = 0;
			maybex = maybey = maybez = 1;
		}
		if (c == '\n' && state <= 2)	/* straynewline() */
			die_msg("451 See https://cr.yp.to/docs/smtplf.html."
			    "\r\n");
		switch (state) {
		case 0:		/* in a line */
		case 1:		/* after \r\n */
			if (state == 1 && c == '.')
				state = 2;
			else if (c == '\r')
				state = 4;
			else {
				state = 0;
				put(c);
			}
			break;
		case 2:		/* \r\n. */
		case 3:		/* \r\n.\r */
			if (state == 3 && c == '\n')
				return hops;
			if (state == 3) {
				put('.');
				put('\r');
			}
			if (c == '\r')
				state = state == 2 ? 3 : 4;
			else {
				state = 0;
				put(c);
			}
			break;
		case 4:		/* \r */
			if (c == '\n')
				state = 1;
			else if (c != '\r') {
				put('\r');
				state = 0;
			}
			put(c);
			break;
		}
	}
}

/* acceptmessage() */
static void
acceptmessage(pid_t qp)
{
	char reply[64];

	snprintf(reply, sizeof(reply), "250 ok %lld qp %ld\r\n",
	    (long long)time(NULL), (long)qp);
	out(reply);
}

static void
smtp_data(char *arg)
{
	const char *qqx;
	pid_t qp;
	int hops;

	(void)arg;
	if (!seenmail) {
		out("503 MAIL first (#5.5.1)\r\n");
		return;
	}
	if (!rcptto.len) {
		out("503 RCPT first (#5.5.1)\r\n");
		return;
	}
	seenmail = 0;
	if (databytes)
		bytestooverflow = databytes + 1;
	if (qmail_open() == -1) {
		out("451 qqt failure (#4.3.0)\r\n");
		return;
	}
	qp = qq.pid;
	out("354 go ahead\r\n");

	received();
	hops = blast() >= MAXHOPS;
	if (hops)
		qq.flagerr = 1;		/* qmail_fail() */
	qmail_from(mailfrom.s != NULL ? mailfrom.s : "");
	qput(rcptto.s, rcptto.len);

	qqx = qmail_close();
	if (!*qqx) {
		acceptmessage(qp);
		return;
	}
	if (hops) {
		out("554 too many hops, this message is looping (#5.4.6)\r\n");
		return;
	}
	if (databytes && !bytestooverflow) {
		out("552 sorry, that message size exceeds my databytes limit "
		    "(#5.3.4)\r\n");
		return;
	}
	out(*qqx == 'D' ? "554 " : "451 ");
	out(qqx + 1);
	out("\r\n");
}

static const struct {
	const char	*text;
	void		(*fun)(char *);
	const char	*reply;		/* used when fun is NULL */
	int		 flush;
} commands[] = {
	{ "rcpt", smtp_rcpt, NULL, 0 },
	{ "mail", smtp_mail, NULL, 0 },
	{ "data", smtp_data, NULL, 1 },
	{ "quit", smtp_quit, NULL, 1 },
	{ "helo", smtp_helo, NULL, 1 },
	{ "ehlo", smtp_ehlo, NULL, 1 },
	{ "rset", smtp_rset, NULL, 0 },
	{ "help", NULL, "214 notqmail home page: https://notqmail.org\r\n", 1 },
	{ "noop", NULL, "250 ok\r\n", 1 },
	{ "vrfy", NULL, "252 send some mail, i'll try my best\r\n", 1 },
	{ NULL, NULL, "502 unimplemented (#5.5.1)\r\n", 1 }
};

static void
record_start(void)
{
	struct buf env = { NULL, 0, 0 }, fds = { NULL, 0, 0 };
	const char *dir;
	char name[64];
	char **e;
	int fd;

	if ((dir = getenv("STANDIN_RECORD")) == NULL)
		return;
	/* which descriptors beyond 0, 1 and 2 we were started with */
	for (fd = 3; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) != -1) {
			char	 link[64], target[256];
			ssize_t	 n;

			snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
			if ((n = readlink(link, target, sizeof(target) - 1)) < 0)
				n = 0;
			target[n] = '\0';
			snprintf(name, sizeof(name), "%d ", fd);
			buf_adds(&fds, name);
			buf_adds(&fds, target);
			buf_addc(&fds, '\n');
		}
	if ((recfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "qmail-smtpd-standin: %s: %s\n", dir,
		    strerror(errno));
		_exit(111);
	}
	for (e = environ; *e != NULL; e++) {
		buf_adds(&env, *e);
		buf_addc(&env, '\n');
	}
	snprintf(name, sizeof(name), "%ld.env", pid);
	rec_write(name, env.s, env.len);
	free(env.s);
	snprintf(name, sizeof(name), "%ld.fds", pid);
	rec_write(name, fds.s, fds.len);
	free(fds.s);
	snprintf(name, sizeof(name), "%ld.in", pid);
	infd = openat(recfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
	    0644);
}

int
main(void)
{
	char *verb, *arg;
	size_t i;
	char c;

	pid = (long)getpid();
	signal(SIGPIPE, SIG_IGN);
	record_start();
	signal(SIGTERM, terminated);
	if ((home = getenv("STANDIN_HOME")) == NULL)
		home = "/var/qmail";
	if (chdir(home) == -1)
		die_control();
	setup();
	smtp_greet("220 ");
	out(" ESMTP\r\n");

	for (;;) {		/* commands() */
		line.len = 0;
		while ((c = getch()) != '\n')
			buf_addc(&line, c);
		if (line.len > 0 && line.s[line.len - 1] == '\r')
			line.len--;
		buf_addc(&line, '\0');	/* so a NUL byte ends it too */
		verb = line.s;
		i = strcspn(verb, " ");
		arg = verb + i;
		while (*arg == ' ')
			arg++;
		verb[i] = '\0';
		for (i = 0; commands[i].text != NULL; i++)
			if (!case_diffs(commands[i].text, verb))
				break;
		if (commands[i].fun != NULL)
			commands[i].fun(arg);
		else
			out(commands[i].reply);
		if (commands[i].flush)
			flush();
	}
}
