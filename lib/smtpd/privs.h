/*
 * Giving up root, when started as root (privs.c).
 */
#ifndef PRIVS_H
#define PRIVS_H

#include <sys/types.h>

int	privs_become(uid_t uid, gid_t gid);
int	privs_become_reader(uid_t uid, gid_t gid);
int	privs_end_reader(void);

#endif
