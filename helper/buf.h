/* buf.h: a growable byte queue; bytes are appended at the end and consumed
 * from the front. Used for every pipe's pending input and output. */
#ifndef AH_BUF_H
#define AH_BUF_H

#include <stddef.h>
#include <stdint.h>

struct ah_buf {
    uint8_t *data;
    size_t start; /* first unconsumed byte */
    size_t end;   /* one past the last byte */
    size_t cap;
};

static inline size_t ah_buf_len(const struct ah_buf *b) { return b->end - b->start; }
static inline uint8_t *ah_buf_head(const struct ah_buf *b) { return b->data + b->start; }

/* Make room for n more bytes and return where they go (not yet committed). */
uint8_t *ah_buf_reserve(struct ah_buf *b, size_t n);
void ah_buf_append(struct ah_buf *b, const void *p, size_t n);
void ah_buf_put_u8(struct ah_buf *b, uint8_t v);
void ah_buf_put_u16(struct ah_buf *b, uint16_t v);
void ah_buf_put_u32(struct ah_buf *b, uint32_t v);
void ah_buf_consume(struct ah_buf *b, size_t n);
void ah_buf_clear(struct ah_buf *b);
void ah_buf_free(struct ah_buf *b);
/* Overwrite a big-endian u32 at absolute offset off (for length back-patching). */
void ah_buf_patch_u32(struct ah_buf *b, size_t off, uint32_t v);

static inline uint32_t ah_get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint16_t ah_get_u16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline void ah_set_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
