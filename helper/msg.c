/* msg.c: msgpack reader and writer for the wire subset. */
#include "msg.h"

#include <string.h>

static int need(const struct ah_mp *m, size_t n) { return (size_t)(m->end - m->p) >= n ? 0 : -1; }

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

enum ah_mp_type ah_mp_peek(const struct ah_mp *m)
{
    if (m->p >= m->end)
        return AH_MP_END;
    uint8_t c = *m->p;
    if (c <= 0x7f || c >= 0xe0 || (c >= 0xcc && c <= 0xd3))
        return AH_MP_INT;
    if (c == 0xc0)
        return AH_MP_NIL;
    if (c == 0xc2 || c == 0xc3)
        return AH_MP_BOOL;
    if ((c >= 0xa0 && c <= 0xbf) || (c >= 0xc4 && c <= 0xc6) || (c >= 0xd9 && c <= 0xdb))
        return AH_MP_BYTES;
    if ((c >= 0x90 && c <= 0x9f) || c == 0xdc || c == 0xdd)
        return AH_MP_ARRAY;
    return AH_MP_OTHER;
}

int ah_mp_read_nil(struct ah_mp *m)
{
    if (need(m, 1) || *m->p != 0xc0)
        return -1;
    m->p++;
    return 0;
}

int ah_mp_read_array(struct ah_mp *m, uint32_t *n)
{
    if (need(m, 1))
        return -1;
    uint8_t c = *m->p;
    int w = 0;
    if (c >= 0x90 && c <= 0x9f) {
        *n = c & 0x0f;
        m->p++;
        return 0;
    }
    if (c == 0xdc)
        w = 2;
    else if (c == 0xdd)
        w = 4;
    else
        return -1;
    if (need(m, 1 + (size_t)w))
        return -1;
    *n = (uint32_t)be(m->p + 1, w);
    m->p += 1 + w;
    return 0;
}

int ah_mp_read_int(struct ah_mp *m, int64_t *v)
{
    if (need(m, 1))
        return -1;
    uint8_t c = *m->p;
    if (c <= 0x7f) {
        *v = c;
        m->p++;
        return 0;
    }
    if (c >= 0xe0) {
        *v = (int8_t)c;
        m->p++;
        return 0;
    }
    static const int widths[] = {1, 2, 4, 8, 1, 2, 4, 8}; /* 0xcc..0xd3 */
    if (c < 0xcc || c > 0xd3)
        return -1;
    int w = widths[c - 0xcc];
    if (need(m, 1 + (size_t)w))
        return -1;
    uint64_t u = be(m->p + 1, w);
    if (c <= 0xcf) { /* unsigned */
        if (u > INT64_MAX)
            return -1;
        *v = (int64_t)u;
    } else if (w == 1) {
        *v = (int8_t)u;
    } else if (w == 2) {
        *v = (int16_t)u;
    } else if (w == 4) {
        *v = (int32_t)u;
    } else {
        *v = (int64_t)u;
    }
    m->p += 1 + w;
    return 0;
}

int ah_mp_read_bytes(struct ah_mp *m, const uint8_t **data, uint32_t *len)
{
    if (need(m, 1))
        return -1;
    uint8_t c = *m->p;
    int w;
    uint32_t n;
    if (c >= 0xa0 && c <= 0xbf) {
        w = 0;
        n = c & 0x1f;
    } else if (c == 0xd9 || c == 0xc4) {
        w = 1;
    } else if (c == 0xda || c == 0xc5) {
        w = 2;
    } else if (c == 0xdb || c == 0xc6) {
        w = 4;
    } else {
        return -1;
    }
    if (need(m, 1 + (size_t)w))
        return -1;
    if (w)
        n = (uint32_t)be(m->p + 1, w);
    if (need(m, 1 + (size_t)w + n))
        return -1;
    *data = m->p + 1 + w;
    *len = n;
    m->p += 1 + (size_t)w + n;
    return 0;
}

static int skip_depth(struct ah_mp *m, int depth)
{
    int64_t i;
    const uint8_t *d;
    uint32_t n;
    if (depth > 32)
        return -1;
    switch (ah_mp_peek(m)) {
    case AH_MP_NIL:
    case AH_MP_BOOL:
        m->p++;
        return 0;
    case AH_MP_INT:
        return ah_mp_read_int(m, &i);
    case AH_MP_BYTES:
        return ah_mp_read_bytes(m, &d, &n);
    case AH_MP_ARRAY:
        if (ah_mp_read_array(m, &n))
            return -1;
        for (uint32_t k = 0; k < n; k++)
            if (skip_depth(m, depth + 1))
                return -1;
        return 0;
    case AH_MP_OTHER:
    case AH_MP_END:
        return -1;
    default:
        return -1;
    }
}

int ah_mp_skip(struct ah_mp *m) { return skip_depth(m, 0); }

void ah_mp_put_nil(struct ah_buf *b) { ah_buf_put_u8(b, 0xc0); }

void ah_mp_put_bool(struct ah_buf *b, bool v) { ah_buf_put_u8(b, v ? 0xc3 : 0xc2); }

static void put_be(struct ah_buf *b, uint8_t marker, uint64_t u, int width)
{
    uint8_t p[9];
    p[0] = marker;
    for (int i = 0; i < width; i++)
        p[1 + i] = (uint8_t)(u >> (8 * (width - 1 - i)));
    ah_buf_append(b, p, (size_t)width + 1);
}

void ah_mp_put_int(struct ah_buf *b, int64_t v)
{
    if (v >= 0 && v <= 0x7f)
        ah_buf_put_u8(b, (uint8_t)v);
    else if (v < 0 && v >= -32)
        ah_buf_put_u8(b, (uint8_t)(int8_t)v);
    else if (v > 0 && v <= 0xff)
        put_be(b, 0xcc, (uint64_t)v, 1);
    else if (v > 0 && v <= 0xffff)
        put_be(b, 0xcd, (uint64_t)v, 2);
    else if (v > 0 && v <= 0xffffffffLL)
        put_be(b, 0xce, (uint64_t)v, 4);
    else if (v >= INT32_MIN && v < 0)
        put_be(b, 0xd2, (uint64_t)(uint32_t)(int32_t)v, 4);
    else
        put_be(b, 0xd3, (uint64_t)v, 8);
}

static void put_len(struct ah_buf *b, uint8_t fix, uint8_t m8, uint8_t m16, uint8_t m32, size_t n)
{
    if (fix && n < 32) {
        ah_buf_put_u8(b, (uint8_t)(fix | n));
    } else if (n <= 0xff) {
        ah_buf_put_u8(b, m8);
        ah_buf_put_u8(b, (uint8_t)n);
    } else if (n <= 0xffff) {
        ah_buf_put_u8(b, m16);
        ah_buf_put_u16(b, (uint16_t)n);
    } else {
        ah_buf_put_u8(b, m32);
        ah_buf_put_u32(b, (uint32_t)n);
    }
}

/* The length of the well-formed UTF-8 sequence at p (n bytes left), or 0:
 * no overlongs, no surrogates, nothing above U+10FFFF (RFC 3629). */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

/* A msgpack str is UTF-8, and the Driver refuses one that is not as a fatal
 * protocol error. Messages quote the caller's bytes (a path, a constant
 * name) and snprintf may cut them mid-character, so each byte that does not
 * begin a well-formed sequence is sent as '?': same length, always valid. */
void ah_mp_put_str(struct ah_buf *b, const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t done = 0, i = 0;
    put_len(b, 0xa0, 0xd9, 0xda, 0xdb, n);
    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        if (k > 0) {
            i += k;
            continue;
        }
        ah_buf_append(b, p + done, i - done);
        ah_buf_put_u8(b, '?');
        done = ++i;
    }
    ah_buf_append(b, p + done, n - done);
}

void ah_mp_put_cstr(struct ah_buf *b, const char *s) { ah_mp_put_str(b, s, strlen(s)); }

void ah_mp_put_bin(struct ah_buf *b, const void *p, size_t n)
{
    put_len(b, 0, 0xc4, 0xc5, 0xc6, n);
    ah_buf_append(b, p, n);
}

void ah_mp_put_array(struct ah_buf *b, uint32_t n)
{
    if (n < 16) {
        ah_buf_put_u8(b, (uint8_t)(0x90 | n));
    } else if (n <= 0xffff) {
        ah_buf_put_u8(b, 0xdc);
        ah_buf_put_u16(b, (uint16_t)n);
    } else {
        ah_buf_put_u8(b, 0xdd);
        ah_buf_put_u32(b, n);
    }
}
