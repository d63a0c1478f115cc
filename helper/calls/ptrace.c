/* ptrace(2): PEEK requests return their word, so errno (not the result)
 * tells failure. The raw system call is used: glibc's wrapper changes the
 * meaning of data for PEEK requests. */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_ptrace(struct ah_call *c, const struct ah_args_ptrace *a)
{
    errno = 0;
    long r = syscall(SYS_ptrace, (long)a->request, (long)a->pid, ah_inout_value(&a->addr), ah_inout_value(&a->data));
    if (r == -1 && errno != 0)
        return AH_ST_ERRNO;
    ah_mp_put_array(c->out, 3);
    ah_mp_put_int(c->out, r);
    ah_inout_put(c->out, &a->addr);
    ah_inout_put(c->out, &a->data);
    return AH_ST_OK;
}
