/*
 * Logging for starttls-smtpd: stderr is tcpserver's, usually multilog's.
 * starttls-remote must never use this module: its stderr is the report pipe.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

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
	ssize_t	 w;

	n = snprintf(line, sizeof(line), "%s: pid %ld: %s", progname,
	    (long)getpid(), tag);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m < 0)
		return;
	len = strlen(line);
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 ||
		    (unsigned char)line[i] > 0x7e)
			line[i] = '?';
	line[len++] = '\n';
	for (i = 0; i < len; i += w) {
		w = write(STDERR_FILENO, line + i, len - i);
		if (w == -1 && errno == EINTR) {
			w = 0;
			continue;
		}
		if (w <= 0)
			return;
	}
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
