/* errno_id: the C name of an errno value, or nil. */
#include "../gen/calls.h"

int ah_call_errno_id(struct ah_call *c, const struct ah_args_errno_id *a)
{
    const char *name = ah_constant_name(AH_FAMILY_ERRNO, a->errnum);
    if (name != NULL)
        ah_mp_put_cstr(c->out, name);
    else
        ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
