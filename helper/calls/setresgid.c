/* setresgid(2) */
#define _GNU_SOURCE
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_setresgid(struct ah_call *c, const struct ah_args_setresgid *a)
{
    if (setresgid((gid_t)a->rgid, (gid_t)a->egid, (gid_t)a->sgid) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
