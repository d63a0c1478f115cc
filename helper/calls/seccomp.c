/* seccomp(2), through the raw system call (glibc has no wrapper). */
#include <sys/syscall.h>
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_seccomp(struct ah_call *c, const struct ah_args_seccomp *a)
{
    if (syscall(SYS_seccomp, (unsigned int)a->operation, (unsigned int)a->flags, ah_inout_value(&a->args)) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
