/* prctl_constant: a prctl constant's value on this platform, or nil. */
#include "../gen/calls.h"

int ah_call_prctl_constant(struct ah_call *c, const struct ah_args_prctl_constant *a)
{
    int64_t v;
    if (ah_constant_lookup(AH_FAMILY_PRCTL, a->name, &v) == 0)
        ah_mp_put_int(c->out, v);
    else
        ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
