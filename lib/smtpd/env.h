/*
 * An environment being built for a program we start (env.c).
 */
#ifndef ENV_H
#define ENV_H

#include <stddef.h>

struct env {
	char	**vars;
	size_t	  n;
	size_t	  size;
};

int	env_init(struct env *, char **);
int	env_set(struct env *, const char *, const char *);
void	env_unset(struct env *, const char *);
void	env_unset_prefix(struct env *, const char *);
void	env_free(struct env *);

#endif
