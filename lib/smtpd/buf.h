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

void	 buf_init(struct buf *b, char *p, size_t size);
char	*buf_data(const struct buf *b);
size_t	 buf_room(struct buf *b);
char	*buf_tail(struct buf *b);
void	 buf_added(struct buf *b, size_t n);
int	 buf_put(struct buf *b, const void *src, size_t n);
int	 buf_puts(struct buf *b, const char *s);
size_t	 buf_move(struct buf *dst, struct buf *src, size_t n);
void	 buf_drop(struct buf *b, size_t n);
int	 buf_full(const struct buf *b);
void	 buf_swap(struct buf *a, struct buf *b);

#endif
