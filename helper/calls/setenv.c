/* setenv(3) */
#include <stdlib.h>

#include "../gen/calls.h"

int ah_call_setenv(struct ah_call *c, const struct ah_args_setenv *a)
{
    if (setenv(a->name, a->value, (int)a->overwrite) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
