/* chroot(2) */
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_chroot(struct ah_call *c, const struct ah_args_chroot *a)
{
    if (chroot(a->path) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
