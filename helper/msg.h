/* msg.h: the subset of msgpack alcovepy uses (nil, bool, int, str, bin,
 * array). The reader never reads past its end pointer and reports every
 * malformed or unexpected input as -1; it allocates nothing. */
#ifndef AH_MSG_H
#define AH_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct ah_mp {
    const uint8_t *p;
    const uint8_t *end;
};

enum ah_mp_type { AH_MP_NIL, AH_MP_BOOL, AH_MP_INT, AH_MP_BYTES, AH_MP_ARRAY, AH_MP_OTHER, AH_MP_END };

enum ah_mp_type ah_mp_peek(const struct ah_mp *m);
int ah_mp_read_nil(struct ah_mp *m);
int ah_mp_read_array(struct ah_mp *m, uint32_t *n);
int ah_mp_read_int(struct ah_mp *m, int64_t *v);
/* str or bin: *data points into the input, not NUL-terminated. */
int ah_mp_read_bytes(struct ah_mp *m, const uint8_t **data, uint32_t *len);
/* Skip one complete value of any supported type (depth-limited). */
int ah_mp_skip(struct ah_mp *m);

void ah_mp_put_nil(struct ah_buf *b);
void ah_mp_put_bool(struct ah_buf *b, bool v);
void ah_mp_put_int(struct ah_buf *b, int64_t v);
void ah_mp_put_str(struct ah_buf *b, const char *s, size_t n);
void ah_mp_put_cstr(struct ah_buf *b, const char *s);
void ah_mp_put_bin(struct ah_buf *b, const void *p, size_t n);
void ah_mp_put_array(struct ah_buf *b, uint32_t n);

#endif
