/*
 * One line per event on stderr, as "prog: pid N: text", written with a
 * single write(2) so lines from concurrent sessions never interleave in
 * multilog.  Bytes outside printable ASCII are shown as '?', so nothing a
 * peer sends (SNI, certificate fields) can forge a log line.
 */
#ifndef LOG_H
#define LOG_H

void	log_init(const char *prog);
void	log_info(const char *fmt, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_fatal(int code, const char *fmt, ...)
	    __attribute__((__format__ (printf, 2, 3), __noreturn__));

#endif
