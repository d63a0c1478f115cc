/* setgid(2) */
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_setgid(struct ah_call *c, const struct ah_args_setgid *a)
{
    if (setgid((gid_t)a->gid) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
