/* ptrace(2). The raw system call is used, so for the PEEK requests the
 * kernel stores the word through the data pointer; like glibc's wrapper we
 * pass our own word there and return it as the result, as the call table
 * promises (the data argument is then returned as given). Other requests
 * pass addr and data through unchanged. */
#include <errno.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../gen/calls.h"

static int is_peek(int64_t request)
{
    return request == PTRACE_PEEKTEXT || request == PTRACE_PEEKDATA || request == PTRACE_PEEKUSER;
}

int ah_call_ptrace(struct ah_call *c, const struct ah_args_ptrace *a)
{
    long word = 0;
    unsigned long data = is_peek(a->request) ? (unsigned long)(uintptr_t)&word : ah_inout_value(&a->data);
    errno = 0;
    long r = syscall(SYS_ptrace, (long)a->request, (long)a->pid, ah_inout_value(&a->addr), data);
    if (r == -1 && errno != 0)
        return AH_ST_ERRNO;
    ah_mp_put_array(c->out, 3);
    ah_mp_put_int(c->out, is_peek(a->request) ? word : r);
    ah_inout_put(c->out, &a->addr);
    ah_inout_put(c->out, &a->data);
    return AH_ST_OK;
}
