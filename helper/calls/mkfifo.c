/* mkfifo(2) */
#include <sys/stat.h>

#include "../gen/calls.h"

int ah_call_mkfifo(struct ah_call *c, const struct ah_args_mkfifo *a)
{
    if (mkfifo(a->path, (mode_t)a->mode) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
