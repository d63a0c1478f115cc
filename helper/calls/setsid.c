/* setsid(2): the new session id */
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_setsid(struct ah_call *c)
{
    pid_t sid = setsid();
    if (sid < 0)
        return AH_ST_ERRNO;
    ah_mp_put_int(c->out, sid);
    return AH_ST_OK;
}
