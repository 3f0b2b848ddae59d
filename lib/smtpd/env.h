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

int	env_init(struct env *e, char **from);
int	env_set(struct env *e, const char *name, const char *value);
void	env_unset(struct env *e, const char *name);
void	env_unset_prefix(struct env *e, const char *prefix);
void	env_free(struct env *e);

#endif
