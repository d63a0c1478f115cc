/* rlimit_constant: a rlimit constant's value on this platform, or nil. */
#include "../gen/calls.h"

int ah_call_rlimit_constant(struct ah_call *c, const struct ah_args_rlimit_constant *a)
{
    int64_t v;
    if (ah_constant_lookup(AH_FAMILY_RLIMIT, a->name, &v) == 0)
        ah_mp_put_int(c->out, v);
    else
        ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
