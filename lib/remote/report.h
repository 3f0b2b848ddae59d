/*
 * qmail-remote's report to qmail-rspawn on fd 1: per recipient 'r', 'h'
 * or 's' and a text, then one 'K', 'Z' or 'D' and a text, each ending in
 * NUL.  fd 2 is the same pipe, so nothing else may ever be written.
 */
#ifndef REPORT_H
#define REPORT_H

#include <stddef.h>

void	report_put(const char *p, size_t len);
void	report_puts(const char *s);
void	report_safe(const char *s);
void	report_text(const char *text, size_t len);
void	report_end(void);
void	report_exit(void) __attribute__((__noreturn__));

#endif
