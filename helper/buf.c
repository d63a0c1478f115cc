/* buf.c: the growable byte queue. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

uint8_t *ah_buf_reserve(struct ah_buf *b, size_t n)
{
    if (b->cap - b->end >= n)
        return b->data + b->end;
    if (b->start > 0) { /* compact before growing */
        size_t len = b->end - b->start;
        memmove(b->data, b->data + b->start, len);
        b->start = 0;
        b->end = len;
        if (b->cap - b->end >= n)
            return b->data + b->end;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->end < n) {
        if (cap > SIZE_MAX / 2)
            ah_die(AH_EXIT_TEMP, "buffer too large");
        cap *= 2;
    }
    b->data = ah_xrealloc(b->data, cap);
    b->cap = cap;
    return b->data + b->end;
}

void ah_buf_append(struct ah_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    memcpy(ah_buf_reserve(b, n), p, n);
    b->end += n;
}

void ah_buf_put_u8(struct ah_buf *b, uint8_t v) { ah_buf_append(b, &v, 1); }

void ah_buf_put_u16(struct ah_buf *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    ah_buf_append(b, p, 2);
}

void ah_buf_put_u32(struct ah_buf *b, uint32_t v)
{
    uint8_t p[4];
    ah_set_u32(p, v);
    ah_buf_append(b, p, 4);
}

void ah_buf_consume(struct ah_buf *b, size_t n)
{
    b->start += n;
    if (b->start == b->end)
        b->start = b->end = 0;
}

void ah_buf_clear(struct ah_buf *b) { b->start = b->end = 0; }

void ah_buf_free(struct ah_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->start = b->end = b->cap = 0;
}

void ah_buf_patch_u32(struct ah_buf *b, size_t off, uint32_t v) { ah_set_u32(b->data + off, v); }
