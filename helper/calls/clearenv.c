/* clearenv(3) */
#define _GNU_SOURCE
#include <stdlib.h>

#include "../gen/calls.h"

int ah_call_clearenv(struct ah_call *c)
{
    if (clearenv() != 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
