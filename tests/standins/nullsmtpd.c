/*
 * nullsmtpd: the fastest SMTP server that still checks what it got, for
 * make bench.  It answers every command at once, reads DATA in 64 KiB
 * gulps to "\r\n.\r\n", and appends "bytes checksum" for each message to
 * $NULLSMTPD_LOG (checksum as loadgen computes it), so a fast figure can
 * never hide lost or damaged mail.
 */
#define _GNU_SOURCE	/* memmem */

#include <sys/types.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static char	 in[65536 + 8];
static size_t	 off, len;

static void
say(const char *s)
{
	size_t	 n = strlen(s);
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(1, s, n)) <= 0)
			exit(1);
		s += w;
		n -= (size_t)w;
	}
}

static int
more(void)
{
	ssize_t	 r;

	if ((r = read(0, in, 65536)) <= 0)
		return -1;
	off = 0;
	len = (size_t)r;
	return 0;
}

static void
logmsg(uint64_t bytes, uint64_t csum)
{
	const char	*path = getenv("NULLSMTPD_LOG");
	char		 line[64];
	int		 fd, n;

	if (path == NULL || (fd = open(path, O_WRONLY | O_APPEND | O_CREAT,
	    0644)) == -1)
		return;
	n = snprintf(line, sizeof(line), "%llu %016llx\n",
	    (unsigned long long)bytes, (unsigned long long)csum);
	(void)write(fd, line, n);
	close(fd);
}

static uint64_t	 csum, part, bytes;

/* loadgen's checksum: 64-bit little-endian words, the tail zero-padded */
static void
sum(const unsigned char *p, size_t n)
{
	uint64_t	 w;

	for (; n > 0 && bytes % 8 != 0; n--, bytes++)
		part |= (uint64_t)*p++ << (8 * (bytes % 8));
	if (bytes % 8 == 0 && part != 0) {
		csum += part;
		part = 0;
	}
	for (; n >= 8; n -= 8, p += 8, bytes += 8) {
		memcpy(&w, p, 8);	/* little endian: as loadgen */
		csum += w;
	}
	for (; n > 0; n--, bytes++)
		part |= (uint64_t)*p++ << (8 * (bytes % 8));
}

/*
 * The message, up to "\r\n.\r\n", checksummed as it came over the wire
 * without the final ".\r\n"; 0, or -1 on EOF.  win holds the bytes not
 * yet counted: the last 4 of each read stay there, since the end may
 * straddle two reads.  It starts with a CRLF that is not the message's
 * (the one ending DATA), so ".\r\n" at once is an empty message.
 */
static int
data(void)
{
	static unsigned char	 win[4 + sizeof(in)];
	unsigned char		*e;
	size_t			 have = 2, skip = 2, n, upto;

	csum = part = bytes = 0;
	memcpy(win, "\r\n", 2);
	for (;;) {
		if (off == len && more() == -1)
			return -1;
		n = len - off;
		memcpy(win + have, in + off, n);
		have += n;
		off = len;
		e = memmem(win, have, "\r\n.\r\n", 5);
		upto = e != NULL ? (size_t)(e - win) + 2 : have - 4;
		if (upto > skip)
			sum(win + skip, upto - skip);
		skip = 0;
		if (e != NULL) {
			/* what followed the end goes back to the commands */
			off = len - (have - (size_t)(e - win) - 5);
			if (bytes % 8 != 0)
				csum += part;
			logmsg(bytes, csum);
			return 0;
		}
		memmove(win, win + have - 4, 4);
		have = 4;
	}
}

int
main(void)
{
	char	 line[1024];
	size_t	 n = 0;
	int	 c;

	say("220 null.example ESMTP\r\n");
	for (;;) {
		if (off == len && more() == -1)
			return 0;
		c = (unsigned char)in[off++];
		if (n < sizeof(line) - 1)
			line[n++] = (char)c;
		if (c != '\n')
			continue;
		line[n] = '\0';
		n = 0;
		if (strncasecmp(line, "EHLO", 4) == 0)
			say("250-null.example\r\n250 PIPELINING\r\n");
		else if (strncasecmp(line, "DATA", 4) == 0) {
			say("354 go ahead\r\n");
			if (data() == -1)
				return 1;
			say("250 ok\r\n");
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			say("221 null.example\r\n");
			return 0;
		} else
			say("250 ok\r\n");
	}
}
