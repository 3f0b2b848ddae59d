/*
 * starttls-remote -C: its control files checked as a delivery reads
 * them (check.c).
 */
#ifndef CHECK_H
#define CHECK_H

int	check_remote(const char *home);

#endif
