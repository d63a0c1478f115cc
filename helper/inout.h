/* inout.h: an argument a system call reads and may write back (prctl,
 * ioctl, ptrace, seccomp, alloc): an integer passed by value, a buffer
 * passed by pointer, or a cstruct: inline bytes and pointers to further
 * buffers, laid out in one block as the kernel will see it. */
#ifndef AH_INOUT_H
#define AH_INOUT_H

#include <stdint.h>

#include "buf.h"

enum ah_inout_kind { AH_IO_NIL, AH_IO_INT, AH_IO_BUF, AH_IO_STRUCT };

struct ah_piece {
    uint32_t off, len; /* where it sits in the inline buffer */
    uint8_t *ptr;      /* a pointer piece: its pointee (NULL for a NULL pointer) */
    uint32_t ptr_len;
    uint8_t is_ptr;
};

struct ah_inout {
    enum ah_inout_kind kind;
    int64_t v;       /* AH_IO_INT */
    uint8_t *buf;    /* AH_IO_BUF, AH_IO_STRUCT: the inline bytes */
    uint32_t len;
    struct ah_piece *pieces; /* AH_IO_STRUCT */
    uint32_t npieces;
};

/* What to pass to the system call: the integer, the buffer's address, or 0. */
unsigned long ah_inout_value(const struct ah_inout *x);
/* Append x as it is now (after the call) to a reply, in the shape it came in. */
void ah_inout_put(struct ah_buf *out, const struct ah_inout *x);

#endif
