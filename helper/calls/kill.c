/* kill(2) */
#include <signal.h>

#include "../gen/calls.h"

int ah_call_kill(struct ah_call *c, const struct ah_args_kill *a)
{
    if (a->sig < 0 || a->sig >= 65)
        return ah_badarg(c, "signal %lld out of range", (long long)a->sig);
    if (kill((pid_t)a->pid, (int)a->sig) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
