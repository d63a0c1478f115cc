/* setuid(2) */
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_setuid(struct ah_call *c, const struct ah_args_setuid *a)
{
    if (setuid((uid_t)a->uid) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
