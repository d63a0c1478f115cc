/* alloc: lay out a cstruct as a system call would get it and read it back. */
#include "../gen/calls.h"

int ah_call_alloc(struct ah_call *c, const struct ah_args_alloc *a)
{
    if (a->cstruct.kind != AH_IO_STRUCT && a->cstruct.kind != AH_IO_BUF)
        return ah_badarg(c, "alloc takes a cstruct or bytes");
    ah_mp_put_array(c->out, 2);
    ah_mp_put_bin(c->out, a->cstruct.buf, a->cstruct.len);
    ah_inout_put(c->out, &a->cstruct);
    return AH_ST_OK;
}
