/* setns(2) */
#define _GNU_SOURCE
#include <sched.h>

#include "../gen/calls.h"

int ah_call_setns(struct ah_call *c, const struct ah_args_setns *a)
{
    if (setns((int)a->fd, (int)a->nstype) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
