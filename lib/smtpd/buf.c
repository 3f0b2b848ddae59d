/*
 * Fixed-size byte buffers shared by the relay loop and the SMTP filters.
 */
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b, char *p, size_t size)
{
	b->p = p;
	b->off = 0;
	b->len = 0;
	b->size = size;
}

char *
buf_data(const struct buf *b)
{
	return b->p + b->off;
}

/* Room at the end, after sliding the held bytes to the front. */
size_t
buf_room(struct buf *b)
{
	if (b->len == 0)
		b->off = 0;
	else if (b->off > 0) {
		memmove(b->p, b->p + b->off, b->len);
		b->off = 0;
	}
	return b->size - b->off - b->len;
}

char *
buf_tail(struct buf *b)
{
	return b->p + b->off + b->len;
}

void
buf_added(struct buf *b, size_t n)
{
	b->len += n;
}

/* All or nothing: returns -1 and leaves the buffer alone if n does not fit. */
int
buf_put(struct buf *b, const void *src, size_t n)
{
	if (b->size - b->len < n)
		return -1;
	if (b->size - b->off - b->len < n) {
		memmove(b->p, b->p + b->off, b->len);
		b->off = 0;
	}
	memcpy(b->p + b->off + b->len, src, n);
	b->len += n;
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}

/* Move up to n bytes from the front of src to the end of dst; returns how many. */
size_t
buf_move(struct buf *dst, struct buf *src, size_t n)
{
	size_t	 room;

	if (n > src->len)
		n = src->len;
	if (n == 0)
		return 0;
	room = dst->size - dst->len;
	if (n > room)
		n = room;
	if (n == 0)
		return 0;
	buf_put(dst, buf_data(src), n);
	buf_drop(src, n);
	return n;
}

void
buf_drop(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->off = 0;
		b->len = 0;
	} else {
		b->off += n;
		b->len -= n;
	}
}

int
buf_full(const struct buf *b)
{
	return b->len == b->size;
}

/* Exchange two buffers' contents without copying a byte. */
void
buf_swap(struct buf *a, struct buf *b)
{
	struct buf	 t = *a;

	*a = *b;
	*b = t;
}
