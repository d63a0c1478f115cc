/* setresuid(2) */
#define _GNU_SOURCE
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_setresuid(struct ah_call *c, const struct ah_args_setresuid *a)
{
    if (setresuid((uid_t)a->ruid, (uid_t)a->euid, (uid_t)a->suid) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
