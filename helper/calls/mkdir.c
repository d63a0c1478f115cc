/* mkdir(2) */
#include <sys/stat.h>

#include "../gen/calls.h"

int ah_call_mkdir(struct ah_call *c, const struct ah_args_mkdir *a)
{
    if (mkdir(a->path, (mode_t)a->mode) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
