/* sethostname(2) */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_sethostname(struct ah_call *c, const struct ah_args_sethostname *a)
{
    if (sethostname(a->name, strlen(a->name)) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
