/* getsid(2) */
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_getsid(struct ah_call *c, const struct ah_args_getsid *a)
{
    pid_t sid = getsid((pid_t)a->pid);
    if (sid < 0)
        return AH_ST_ERRNO;
    ah_mp_put_int(c->out, sid);
    return AH_ST_OK;
}
