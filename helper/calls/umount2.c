/* umount2(2) */
#include <sys/mount.h>

#include "../gen/calls.h"

int ah_call_umount2(struct ah_call *c, const struct ah_args_umount2 *a)
{
    if (umount2(a->target, (int)a->flags) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
