/* open(2) */
#include <fcntl.h>

#include "../gen/calls.h"

int ah_call_open(struct ah_call *c, const struct ah_args_open *a)
{
    int fd = open(a->path, (int)a->flags, (mode_t)a->mode);
    if (fd < 0)
        return AH_ST_ERRNO;
    ah_mp_put_int(c->out, fd);
    return AH_ST_OK;
}
