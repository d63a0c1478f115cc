/* getgid(2): cannot fail. */
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_getgid(struct ah_call *c)
{
    ah_mp_put_int(c->out, (int64_t)getgid());
    return AH_ST_OK;
}
