/*
 * Fixed-size byte buffers: bytes live in p[off .. off+len), new bytes are
 * appended at the end, consumed bytes leave from the front.  No buffer ever
 * grows: a full buffer is the signal to stop reading (back pressure).
 */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>

struct buf {
	char	*p;
	size_t	 off;
	size_t	 len;
	size_t	 size;
};

void	 buf_init(struct buf *, char *, size_t);
char	*buf_data(const struct buf *);
size_t	 buf_room(struct buf *);
char	*buf_tail(struct buf *);
void	 buf_added(struct buf *, size_t);
int	 buf_put(struct buf *, const void *, size_t);
int	 buf_puts(struct buf *, const char *);
size_t	 buf_move(struct buf *, struct buf *, size_t);
void	 buf_drop(struct buf *, size_t);
int	 buf_full(const struct buf *);
void	 buf_swap(struct buf *, struct buf *);

#endif
