/* getrlimit(2): [cur, max], RLIM_INFINITY as -1 (Python's resource module agrees). */
#include <sys/resource.h>

#include "../gen/calls.h"

static int64_t wire(rlim_t v)
{
    return v == RLIM_INFINITY ? -1 : (int64_t)v;
}

int ah_call_getrlimit(struct ah_call *c, const struct ah_args_getrlimit *a)
{
    struct rlimit rl;
    if (getrlimit((__rlimit_resource_t)a->resource, &rl) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_array(c->out, 2);
    ah_mp_put_int(c->out, wire(rl.rlim_cur));
    ah_mp_put_int(c->out, wire(rl.rlim_max));
    return AH_ST_OK;
}
