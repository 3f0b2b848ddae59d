/*
 * The report, buffered and written with the full-write loop at the end of
 * each part.  If fd 1 is gone there is nobody to tell: exit quietly, as
 * qmail-remote does (qmail-rspawn then sees no report and defers).
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "report.h"
#include "text.h"

static char	rbuf[8192];
static size_t	rlen;

static void
flush(void)
{
	if (rlen > 0 && io_writeall(1, rbuf, rlen, io_now() + 60000) == -1)
		_exit(0);
	rlen = 0;
}

void
report_put(const char *p, size_t len)
{
	size_t	 n;

	while (len > 0) {
		if (rlen == sizeof(rbuf))
			flush();
		n = sizeof(rbuf) - rlen < len ? sizeof(rbuf) - rlen : len;
		memcpy(rbuf + rlen, p, n);
		rlen += n;
		p += n;
		len -= n;
	}
}

void
report_puts(const char *s)
{
	report_put(s, strlen(s));
}

/* A name from outside (a host from argv): printable ASCII only, as outsafe(). */
void
report_safe(const char *s)
{
	char	 c;

	for (; *s != '\0'; s++) {
		c = (char)text_safe(*s, TEXT_NOSPACE);
		report_put(&c, 1);
	}
}

/*
 * The remote's reply, as outsmtptext(): "Remote host said: " and the text
 * with NULs turned into '?' (a NUL would end the report early).
 */
void
report_text(const char *text, size_t len)
{
	size_t	 i;
	char	 c;

	if (len == 0)
		return;
	report_puts("Remote host said: ");
	for (i = 0; i < len; i++) {
		c = text[i] == '\0' ? '?' : text[i];
		report_put(&c, 1);
	}
}

/* End one part of the report. */
void
report_end(void)
{
	report_put("", 1);
	flush();
}

void
report_exit(void)
{
	report_end();
	exit(0);
}
