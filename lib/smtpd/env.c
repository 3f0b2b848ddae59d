/*
 * An environment being built for a program we start: a copy of ours,
 * less what the program must not see, plus what it is told.
 */
#include <stdlib.h>
#include <string.h>

#include "env.h"

int
env_init(struct env *e, char **from)
{
	size_t	 n;

	for (n = 0; from[n] != NULL; n++)
		;
	e->size = n + 16;
	if ((e->vars = calloc(e->size, sizeof(char *))) == NULL)
		return -1;
	e->n = 0;
	for (; e->n < n; e->n++)
		if ((e->vars[e->n] = strdup(from[e->n])) == NULL)
			return -1;
	return 0;
}

static int
env_match(const char *var, const char *name, size_t len)
{
	return strncmp(var, name, len) == 0 && var[len] == '=';
}

/* Take out every variable whose name is name, or starts with it (prefix). */
static void
env_remove(struct env *e, const char *name, int prefix)
{
	size_t	 i, len = strlen(name);

	for (i = 0; i < e->n; )
		if (prefix ? strncmp(e->vars[i], name, len) == 0 :
		    env_match(e->vars[i], name, len)) {
			free(e->vars[i]);
			e->vars[i] = e->vars[--e->n];
			e->vars[e->n] = NULL;
		} else
			i++;
}

void
env_unset(struct env *e, const char *name)
{
	env_remove(e, name, 0);
}

void
env_unset_prefix(struct env *e, const char *prefix)
{
	env_remove(e, prefix, 1);
}

int
env_set(struct env *e, const char *name, const char *value)
{
	char	**nv, *var;
	size_t	  len;

	env_unset(e, name);
	len = strlen(name) + 1 + strlen(value) + 1;
	if ((var = malloc(len)) == NULL)
		return -1;
	memcpy(var, name, strlen(name));
	var[strlen(name)] = '=';
	memcpy(var + strlen(name) + 1, value, strlen(value) + 1);
	if (e->n + 1 >= e->size) {
		nv = realloc(e->vars, (e->size * 2) * sizeof(char *));
		if (nv == NULL) {
			free(var);
			return -1;
		}
		e->vars = nv;
		e->size *= 2;
	}
	e->vars[e->n++] = var;
	e->vars[e->n] = NULL;
	return 0;
}

void
env_free(struct env *e)
{
	size_t	 i;

	for (i = 0; i < e->n; i++)
		free(e->vars[i]);
	free(e->vars);
	e->vars = NULL;
	e->n = e->size = 0;
}

/* No child yet. */
