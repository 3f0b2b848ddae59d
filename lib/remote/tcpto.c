/*
 * queue/lock/tcpto, read and written as qmail-remote does, so that
 * starttls-remote and a stock qmail-remote can share it.  The file holds
 * 16-byte records: IPv4 address (4 bytes), a count of consecutive
 * timeouts (1 byte, at most 10), 3 unused bytes, the time of the last
 * timeout (4 bytes, little endian), 4 unused bytes.  It is read and
 * rewritten under an exclusive lock on the file itself.  IPv6 addresses
 * do not fit the format and are never recorded.
 */
#include <sys/types.h>
#include <sys/file.h>

#include <netinet/in.h>

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "tcpto.h"

#define TCPTO_FILE	"queue/lock/tcpto"
#define TCPTO_SIZE	1024

static int	wasthere;	/* the host had a record when tcpto_skip looked */

static int
tcpto_ip(const struct sockaddr *sa, unsigned char ip[4])
{
	if (sa->sa_family != AF_INET)
		return 0;
	memcpy(ip, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
	    4);
	return 1;
}

static unsigned long
rec_when(const unsigned char *r)
{
	return (unsigned long)r[8] | (unsigned long)r[9] << 8 |
	    (unsigned long)r[10] << 16 | (unsigned long)r[11] << 24;
}

static void
rec_setwhen(unsigned char *r, unsigned long when)
{
	r[8] = when & 0xff;
	r[9] = (when >> 8) & 0xff;
	r[10] = (when >> 16) & 0xff;
	r[11] = (when >> 24) & 0xff;
}

/* Read the table under lock; returns the locked descriptor and n records. */
static int
tcpto_load(unsigned char *buf, int *n)
{
	ssize_t	 r;
	int	 fd;

	if ((fd = open(TCPTO_FILE, O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	if (flock(fd, LOCK_EX) == -1) {
		close(fd);
		return -1;
	}
	r = pread(fd, buf, TCPTO_SIZE, 0);
	if (r <= 0) {
		close(fd);
		return -1;
	}
	*n = (int)(r >> 4);
	return fd;
}

/*
 * Skip this host?  Yes if it timed out twice or more in a row, recently:
 * within about an hour, the window qmail-remote uses.
 */
int
tcpto_skip(const struct sockaddr *sa, long now)
{
	unsigned char	 buf[TCPTO_SIZE], ip[4], *r;
	int		 fd, n, i;

	wasthere = 0;
	if (!tcpto_ip(sa, ip) || (fd = tcpto_load(buf, &n)) == -1)
		return 0;
	close(fd);
	for (i = 0, r = buf; i < n; i++, r += 16) {
		if (memcmp(r, ip, 4) != 0)
			continue;
		wasthere = 1;
		if (r[4] >= 2 && now - (long)rec_when(r) <
		    (long)((60 + (getpid() & 31)) << 6))
			return 1;
		return 0;
	}
	return 0;
}

/*
 * After a connection attempt: timedout says whether it timed out.  A
 * success clears the host's count; a timeout counts up, or takes the
 * free or the stalest slot.
 */
void
tcpto_note(const struct sockaddr *sa, int timedout, long now)
{
	unsigned char	 buf[TCPTO_SIZE], ip[4], *r;
	unsigned long	 when, firstwhen = 0;
	int		 fd, n, i, first = -1;

	if (!tcpto_ip(sa, ip) || (!timedout && !wasthere))
		return;
	if ((fd = tcpto_load(buf, &n)) == -1)
		return;
	for (i = 0, r = buf; i < n; i++, r += 16) {
		if (memcmp(r, ip, 4) != 0)
			continue;
		if (!timedout)
			r[4] = 0;
		else {
			if (r[4] && now - 120 < (long)rec_when(r))
				goto done;	/* counted a moment ago */
			if (++r[4] > 10)
				r[4] = 10;
			rec_setwhen(r, (unsigned long)now);
		}
		(void)pwrite(fd, r, 16, (off_t)i << 4);
		goto done;
	}
	if (!timedout)
		goto done;
	for (i = 0, r = buf; i < n; i++, r += 16)
		if (!r[4])
			break;
	if (i >= n) {
		for (i = 0, r = buf; i < n; i++, r += 16) {
			when = rec_when(r) + ((unsigned long)r[4] << 10);
			if (first < 0 || when < firstwhen) {
				first = i;
				firstwhen = when;
			}
		}
		i = first;
	}
	if (i >= 0) {
		r = buf + (i << 4);	/* bytes 5-7, 12-15 stay as they were */
		memcpy(r, ip, 4);
		r[4] = 1;
		rec_setwhen(r, (unsigned long)now);
		(void)pwrite(fd, r, 16, (off_t)i << 4);
	}
 done:
	close(fd);
}
