/*
 * Sending the message of a queue file over SMTP, as qmail-remote's
 * blast() does.
 */
#include <sys/types.h>

#include <errno.h>
#include <unistd.h>

#include "blast.h"
#include "smtpc.h"

/*
 * The message from fd, as notqmail's qmail-remote sends it: every line
 * ends in CRLF (LF, CRLF and a bare CR all become CRLF), a '.' that
 * starts a line is doubled, and a last line without an end is reported
 * (BLAST_PARTIAL_LINE) so the caller refuses it before the final ".":
 * the server never takes a truncated message.
 * Unlike notqmail 1.09, a line that starts after a bare CR is dot-stuffed
 * too: "a\r.\n" must not end the message early.
 */
enum blast
blast_send(int fd, struct smtpc *smtp)
{
	char	 in[65536], out[2 * sizeof(in) + 3];
	size_t	 i, o;
	ssize_t	 r;
	int	 bol = 1, cr = 0;

	if (lseek(fd, 0, SEEK_SET) == -1 && errno != ESPIPE)
		return BLAST_READ_FAILED;
	for (;;) {
		r = read(fd, in, sizeof(in));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return BLAST_READ_FAILED;
		if (r == 0)
			break;
		for (i = o = 0; i < (size_t)r; i++) {
			if (cr) {
				cr = 0;
				out[o++] = '\r';
				out[o++] = '\n';
				bol = 1;
				if (in[i] == '\n')
					continue;
			}
			if (in[i] == '\r') {
				cr = 1;
				continue;
			}
			if (bol && in[i] == '.')
				out[o++] = '.';
			if (in[i] == '\n') {
				out[o++] = '\r';
				bol = 1;
			} else
				bol = 0;
			out[o++] = in[i];
		}
		if (smtpc_send(smtp, out, o) == -1)
			return BLAST_DIED;
	}
	if (cr) {
		bol = 1;
		if (smtpc_puts(smtp, "\r\n") == -1)
			return BLAST_DIED;
	}
	return bol ? BLAST_OK : BLAST_PARTIAL_LINE;
}
