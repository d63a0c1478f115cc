/* umount(2) */
#include <sys/mount.h>

#include "../gen/calls.h"

int ah_call_umount(struct ah_call *c, const struct ah_args_umount *a)
{
    if (umount(a->target) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
