/* setpgid(2) */
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_setpgid(struct ah_call *c, const struct ah_args_setpgid *a)
{
    if (setpgid((pid_t)a->pid, (pid_t)a->pgid) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
