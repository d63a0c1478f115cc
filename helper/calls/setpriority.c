/* setpriority(2) */
#include <sys/resource.h>

#include "../gen/calls.h"

int ah_call_setpriority(struct ah_call *c, const struct ah_args_setpriority *a)
{
    if (setpriority((__priority_which_t)a->which, (id_t)a->who, (int)a->prio) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
