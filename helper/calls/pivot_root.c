/* pivot_root(2) */
#include <sys/syscall.h>
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_pivot_root(struct ah_call *c, const struct ah_args_pivot_root *a)
{
    if (syscall(SYS_pivot_root, a->new_root, a->put_old) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
