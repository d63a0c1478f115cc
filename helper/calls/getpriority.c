/* getpriority(2): -1 is a valid nice value, so errno tells failure. */
#include <errno.h>
#include <sys/resource.h>

#include "../gen/calls.h"

int ah_call_getpriority(struct ah_call *c, const struct ah_args_getpriority *a)
{
    errno = 0;
    int prio = getpriority((__priority_which_t)a->which, (id_t)a->who);
    if (prio == -1 && errno != 0)
        return AH_ST_ERRNO;
    ah_mp_put_int(c->out, prio);
    return AH_ST_OK;
}
