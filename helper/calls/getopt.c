/* getopt: read one of this process's options. */
#include "../gen/calls.h"
#include "../proc.h"

int ah_call_getopt(struct ah_call *c, const struct ah_args_getopt *a)
{
    ah_mp_put_int(c->out, ah_self.opt[a->opt]);
    return AH_ST_OK;
}
