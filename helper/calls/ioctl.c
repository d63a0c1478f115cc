/* ioctl(2): arg by value (int) or by pointer (bytes, cstruct), returned as
 * the kernel left it. */
#include <sys/ioctl.h>

#include "../gen/calls.h"

int ah_call_ioctl(struct ah_call *c, const struct ah_args_ioctl *a)
{
    int r = ioctl((int)a->fd, (unsigned long)a->request, ah_inout_value(&a->arg));
    if (r < 0)
        return AH_ST_ERRNO;
    ah_mp_put_array(c->out, 2);
    ah_mp_put_int(c->out, r);
    ah_inout_put(c->out, &a->arg);
    return AH_ST_OK;
}
