/* getpid(2) */
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_getpid(struct ah_call *c)
{
    ah_mp_put_int(c->out, getpid());
    return AH_ST_OK;
}
