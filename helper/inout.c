/* inout.c: decode, lay out and read back in/out arguments (see inout.h).
 * Every buffer gets zeroed slack after it, so a kernel that writes more than
 * the caller sized (a too-small PR_GET_NAME buffer) cannot corrupt the heap. */
#include <string.h>

#include "call.h"

#define SLACK 4096u
#define MAX_PIECES 1024u
#define MAX_INLINE (1024u * 1024u)
#define MAX_TOTAL (16u * 1024u * 1024u)

static uint32_t round16(uint32_t n)
{
    return (n + 15u) & ~15u;
}

/* One item of a cstruct: inline bytes, a pointer to n zeroed bytes (int), or
 * a pointer to a copy of bytes ([bin]). */
static int read_piece(struct ah_call *c, struct ah_piece *pc, const uint8_t **data)
{
    uint32_t n;
    int64_t size;
    *data = NULL;
    memset(pc, 0, sizeof(*pc));
    switch (ah_mp_peek(&c->args)) {
    case AH_MP_BYTES:
        if (ah_mp_read_bytes(&c->args, data, &pc->len))
            break;
        return 0;
    case AH_MP_INT:
        if (ah_mp_read_int(&c->args, &size) || size < 0 || size > MAX_TOTAL)
            break;
        pc->is_ptr = 1;
        pc->len = sizeof(void *);
        pc->ptr_len = (uint32_t)size;
        return 0;
    case AH_MP_ARRAY:
        if (ah_mp_read_array(&c->args, &n) || n != 1 || ah_mp_read_bytes(&c->args, data, &pc->ptr_len))
            break;
        pc->is_ptr = 1;
        pc->len = sizeof(void *);
        return 0;
    default:
        break;
    }
    ah_badarg(c, "a cstruct item is bytes, Ptr(size) or Ptr(bytes)");
    return -1;
}

static int read_struct(struct ah_call *c, struct ah_inout *x)
{
    uint32_t n;
    if (ah_mp_read_array(&c->args, &n) || n == 0 || n > MAX_PIECES) {
        ah_badarg(c, "a cstruct has 1 to %u items", MAX_PIECES);
        return -1;
    }
    /* pass 1 on a copy of the reader: sizes */
    struct ah_mp start = c->args;
    uint64_t inline_len = 0, total = 0;
    struct ah_piece pc;
    const uint8_t *data;
    for (uint32_t i = 0; i < n; i++) {
        if (read_piece(c, &pc, &data))
            return -1;
        inline_len += pc.len;
        if (pc.is_ptr && pc.ptr_len > 0)
            total += round16(pc.ptr_len) + SLACK;
    }
    if (inline_len > MAX_INLINE || inline_len + total > MAX_TOTAL) {
        ah_badarg(c, "cstruct too large");
        return -1;
    }
    total += round16((uint32_t)inline_len) + SLACK;
    uint8_t *block = ah_arena_alloc(c, total);
    memset(block, 0, total);
    x->kind = AH_IO_STRUCT;
    x->buf = block;
    x->len = (uint32_t)inline_len;
    x->npieces = n;
    x->pieces = ah_arena_alloc(c, n * sizeof(struct ah_piece));
    uint8_t *next = block + round16((uint32_t)inline_len) + SLACK;
    uint32_t off = 0;
    /* pass 2: lay out */
    c->args = start;
    for (uint32_t i = 0; i < n; i++) {
        struct ah_piece *p = &x->pieces[i];
        (void)read_piece(c, p, &data);
        p->off = off;
        if (!p->is_ptr) {
            memcpy(block + off, data, p->len);
        } else if (p->ptr_len > 0) {
            p->ptr = next;
            if (data != NULL)
                memcpy(next, data, p->ptr_len);
            next += round16(p->ptr_len) + SLACK;
            memcpy(block + off, &p->ptr, sizeof(void *));
        }
        off += p->len;
    }
    return 0;
}

int ah_arg_inout(struct ah_call *c, struct ah_inout *x)
{
    const uint8_t *data;
    memset(x, 0, sizeof(*x));
    switch (ah_mp_peek(&c->args)) {
    case AH_MP_NIL:
        (void)ah_mp_read_nil(&c->args);
        x->kind = AH_IO_NIL;
        return 0;
    case AH_MP_INT:
        x->kind = AH_IO_INT;
        if (ah_mp_read_int(&c->args, &x->v) == 0)
            return 0;
        break;
    case AH_MP_BYTES:
        if (ah_mp_read_bytes(&c->args, &data, &x->len) || x->len > MAX_TOTAL)
            break;
        x->kind = AH_IO_BUF;
        x->buf = ah_arena_alloc(c, (size_t)x->len + SLACK);
        memset(x->buf, 0, (size_t)x->len + SLACK);
        memcpy(x->buf, data, x->len);
        return 0;
    case AH_MP_ARRAY:
        return read_struct(c, x);
    default:
        break;
    }
    ah_badarg(c, "expected an int, bytes, a cstruct or None");
    return -1;
}

unsigned long ah_inout_value(const struct ah_inout *x)
{
    switch (x->kind) {
    case AH_IO_INT:
        return (unsigned long)x->v;
    case AH_IO_BUF:
    case AH_IO_STRUCT:
        return (unsigned long)(uintptr_t)x->buf;
    case AH_IO_NIL:
    default:
        return 0;
    }
}

void ah_inout_put(struct ah_buf *out, const struct ah_inout *x)
{
    switch (x->kind) {
    case AH_IO_INT:
        ah_mp_put_int(out, x->v);
        return;
    case AH_IO_BUF:
        ah_mp_put_bin(out, x->buf, x->len);
        return;
    case AH_IO_STRUCT:
        ah_mp_put_array(out, x->npieces);
        for (uint32_t i = 0; i < x->npieces; i++) {
            const struct ah_piece *p = &x->pieces[i];
            if (!p->is_ptr) {
                ah_mp_put_bin(out, x->buf + p->off, p->len);
            } else {
                ah_mp_put_array(out, 1);
                ah_mp_put_bin(out, p->ptr, p->ptr != NULL ? p->ptr_len : 0);
            }
        }
        return;
    case AH_IO_NIL:
    default:
        ah_mp_put_nil(out);
        return;
    }
}
