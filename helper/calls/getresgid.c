/* getresgid(2): [real, effective, saved] */
#define _GNU_SOURCE
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_getresgid(struct ah_call *c)
{
    gid_t r, e, s;
    if (getresgid(&r, &e, &s) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_array(c->out, 3);
    ah_mp_put_int(c->out, (int64_t)r);
    ah_mp_put_int(c->out, (int64_t)e);
    ah_mp_put_int(c->out, (int64_t)s);
    return AH_ST_OK;
}
