/* read(2) once, into a buffer of count bytes: any size up to AH_MAX_COUNT
 * fits in a reply (frames go to 64 MiB). */
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_read(struct ah_call *c, const struct ah_args_read *a)
{
    uint8_t *buf = ah_arena_alloc(c, a->count ? (size_t)a->count : 1);
    ssize_t n = read((int)a->fd, buf, (size_t)a->count);
    if (n < 0)
        return AH_ST_ERRNO;
    ah_mp_put_bin(c->out, buf, (size_t)n);
    return AH_ST_OK;
}
