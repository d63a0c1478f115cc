/* prctl(2): four in/out arguments, returned as the kernel left them. */
#include <sys/prctl.h>

#include "../gen/calls.h"

int ah_call_prctl(struct ah_call *c, const struct ah_args_prctl *a)
{
    int r = prctl((int)a->option, ah_inout_value(&a->arg2), ah_inout_value(&a->arg3), ah_inout_value(&a->arg4),
                  ah_inout_value(&a->arg5));
    if (r < 0)
        return AH_ST_ERRNO;
    ah_mp_put_array(c->out, 5);
    ah_mp_put_int(c->out, r);
    ah_inout_put(c->out, &a->arg2);
    ah_inout_put(c->out, &a->arg3);
    ah_inout_put(c->out, &a->arg4);
    ah_inout_put(c->out, &a->arg5);
    return AH_ST_OK;
}
