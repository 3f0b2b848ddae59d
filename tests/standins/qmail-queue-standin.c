/*
 * qmail-queue-standin: a test double for qmail-queue, installed as
 * bin/qmail-queue in the stand-in's qmail home (tests/e2e/lib.py).
 *
 * It reads as qmail-queue does: the whole message on fd 0, then the
 * envelope on fd 1 ("F" sender NUL, "T" recipient NUL each, then NUL),
 * and exits as qmail-queue would: 0 once the message is "queued", 54 when
 * either input ends early or fails, 91 for a malformed envelope, 53 when
 * it cannot write.  Instead of the queue it writes, in $STANDIN_RECORD:
 *
 *	<pid>.msg	the message, byte for byte
 *	<pid>.envelope	F<sender>, then one T<recipient> line each
 *
 * both by rename(2), the envelope last, and only for a whole message.
 * Without $STANDIN_RECORD it reads and forgets.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum qq_exit {
	QQ_WRITE = 53,
	QQ_READ = 54,
	QQ_ENVELOPE = 91
};

static int	 recfd = -1;
static char	 tmpmsg[64], tmpenv[64];

static void
die(int code)
{
	if (recfd != -1) {
		unlinkat(recfd, tmpmsg, 0);
		unlinkat(recfd, tmpenv, 0);
	}
	_exit(code);
}

static void
writeall(int fd, const char *s, size_t len)
{
	ssize_t	 w;

	while (len > 0) {
		if ((w = write(fd, s, len)) == -1 && errno == EINTR)
			continue;
		if (w == -1)
			die(QQ_WRITE);
		s += w;
		len -= (size_t)w;
	}
}

/* one byte of the envelope, or die as qmail-queue does at its end */
static char
envelope_byte(void)
{
	static char	 b[4096];
	static ssize_t	 len, pos;

	if (pos == len) {
		do
			len = read(1, b, sizeof(b));
		while (len == -1 && errno == EINTR);
		if (len <= 0)
			die(QQ_READ);
		pos = 0;
	}
	return b[pos++];
}

/* the envelope, as text lines, into fd */
static void
envelope_copy(int fd)
{
	char	 c, line[2];
	int	 first = 1;

	for (;;) {
		c = envelope_byte();
		if (c == '\0' && !first)
			return;
		if ((first && c != 'F') || (!first && c != 'T'))
			die(QQ_ENVELOPE);
		first = 0;
		line[0] = c;
		writeall(fd, line, 1);
		while ((c = envelope_byte()) != '\0')
			writeall(fd, &c, 1);
		writeall(fd, "\n", 1);
	}
}

int
main(void)
{
	const char	*dir = getenv("STANDIN_RECORD");
	char		 b[65536], name[64];
	ssize_t		 r;
	long		 pid = (long)getpid();
	int		 msgfd = -1, envfd;

	snprintf(tmpmsg, sizeof(tmpmsg), ".tmp.%ld.msg", pid);
	snprintf(tmpenv, sizeof(tmpenv), ".tmp.%ld.envelope", pid);
	if (dir != NULL && ((recfd = open(dir, O_RDONLY | O_DIRECTORY)) ==
	    -1 || (msgfd = openat(recfd, tmpmsg, O_WRONLY | O_CREAT | O_TRUNC,
	    0644)) == -1))
		die(QQ_WRITE);
	while ((r = read(0, b, sizeof(b))) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			die(QQ_READ);
		if (msgfd != -1)
			writeall(msgfd, b, (size_t)r);
	}
	if (recfd == -1) {
		envelope_copy(open("/dev/null", O_WRONLY));
		return 0;
	}
	if ((envfd = openat(recfd, tmpenv, O_WRONLY | O_CREAT | O_TRUNC,
	    0644)) == -1)
		die(QQ_WRITE);
	envelope_copy(envfd);
	if (close(msgfd) == -1 || close(envfd) == -1)
		die(QQ_WRITE);
	snprintf(name, sizeof(name), "%ld.msg", pid);
	if (renameat(recfd, tmpmsg, recfd, name) == -1)
		die(QQ_WRITE);
	snprintf(name, sizeof(name), "%ld.envelope", pid);
	if (renameat(recfd, tmpenv, recfd, name) == -1)
		die(QQ_WRITE);
	return 0;
}
