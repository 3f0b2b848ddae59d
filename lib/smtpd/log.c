/*
 * Logging for starttls-smtpd: stderr is tcpserver's, usually multilog's.
 * starttls-remote cannot link this module (it is in lib/smtpd/): its
 * stderr is the report pipe.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "text.h"

#define LOG_MS	10000	/* for stderr to take a line */

static const char	*progname = "starttls";

void
log_init(const char *prog)
{
	progname = prog;
}

static void
log_emit(const char *tag, const char *fmt, va_list ap)
{
	char	 line[1024];
	int	 n, m;
	size_t	 i, len;

	n = snprintf(line, sizeof(line), "%s: pid %ld: %s", progname,
	    (long)getpid(), tag);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m < 0)
		return;
	len = strlen(line);
	for (i = 0; i < len; i++)
		line[i] = (char)text_safe(line[i], TEXT_SPACE);
	line[len++] = '\n';
	(void)io_writeall(STDERR_FILENO, line, len, io_now() + LOG_MS);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit("", fmt, ap);
	va_end(ap);
}

void
log_fatal(int code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit("fatal: ", fmt, ap);
	va_end(ap);
	_exit(code);
}
