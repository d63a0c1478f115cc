/* getenv(3): the value, or nil. */
#include <stdlib.h>
#include <string.h>

#include "../gen/calls.h"

int ah_call_getenv(struct ah_call *c, const struct ah_args_getenv *a)
{
    const char *v = getenv(a->name);
    if (v == NULL)
        ah_mp_put_nil(c->out);
    else
        ah_mp_put_bin(c->out, v, strlen(v));
    return AH_ST_OK;
}
