/* link(2) */
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_link(struct ah_call *c, const struct ah_args_link *a)
{
    if (link(a->oldpath, a->newpath) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
