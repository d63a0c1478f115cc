/* setrlimit(2); -1 is RLIM_INFINITY. */
#include <sys/resource.h>

#include "../gen/calls.h"

static rlim_t native(int64_t v)
{
    return v < 0 ? RLIM_INFINITY : (rlim_t)v;
}

int ah_call_setrlimit(struct ah_call *c, const struct ah_args_setrlimit *a)
{
    struct rlimit rl = {native(a->limit.cur), native(a->limit.max)};
    if (setrlimit((__rlimit_resource_t)a->resource, &rl) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
