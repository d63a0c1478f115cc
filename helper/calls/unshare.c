/* unshare(2) */
#define _GNU_SOURCE
#include <sched.h>

#include "../gen/calls.h"

int ah_call_unshare(struct ah_call *c, const struct ah_args_unshare *a)
{
    if (unshare((int)a->flags) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
