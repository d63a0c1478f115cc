/* clone: a new control process in new namespaces. Only CLONE_NEW* flags are
 * accepted: other clone flags (CLONE_VM, CLONE_THREAD...) would break the
 * fork-like copy the child relies on. */
#define _GNU_SOURCE
#include <sched.h>

#include "../child.h"
#include "../gen/calls.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

#define AH_CLONE_NS                                                                                      \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
     CLONE_NEWTIME)

int ah_call_clone(struct ah_call *c, const struct ah_args_clone *a)
{
    if (a->flags < 0 || (a->flags & ~(int64_t)AH_CLONE_NS) != 0)
        return ah_badarg(c, "clone takes only CLONE_NEW* flags (got %#llx)", (unsigned long long)a->flags);
    return ah_child_spawn(c, 1, a->flags);
}
