/* unsetenv(3) */
#include <stdlib.h>

#include "../gen/calls.h"

int ah_call_unsetenv(struct ah_call *c, const struct ah_args_unsetenv *a)
{
    if (unsetenv(a->name) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
