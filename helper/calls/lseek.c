/* lseek(2): the new offset (alcove discarded it). */
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_lseek(struct ah_call *c, const struct ah_args_lseek *a)
{
    off_t off = lseek((int)a->fd, (off_t)a->offset, (int)a->whence);
    if (off < 0)
        return AH_ST_ERRNO;
    ah_mp_put_int(c->out, (int64_t)off);
    return AH_ST_OK;
}
