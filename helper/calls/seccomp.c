/* seccomp(2), through the raw system call (glibc has no wrapper). The
 * result (a listener fd) and args as the kernel left them are returned. */
#include <sys/syscall.h>
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_seccomp(struct ah_call *c, const struct ah_args_seccomp *a)
{
    long r = syscall(SYS_seccomp, (unsigned int)a->operation, (unsigned int)a->flags, ah_inout_value(&a->args));
    if (r < 0)
        return AH_ST_ERRNO;
    ah_mp_put_array(c->out, 2);
    ah_mp_put_int(c->out, r);
    ah_inout_put(c->out, &a->args);
    return AH_ST_OK;
}
