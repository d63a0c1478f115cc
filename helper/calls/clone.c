/* clone: a new control process in new namespaces. Only CLONE_NEW* flags are
 * accepted: other clone flags (CLONE_VM, CLONE_THREAD...) would break the
 * fork-like copy the child relies on. The clone is a clone3 (see do_fork in
 * child.c), so CLONE_NEWTIME works and an unprivileged CLONE_NEWUSER |
 * CLONE_NEWTIME makes a time namespace owned by the new user namespace. */
#include "../child.h"
#include "../gen/calls.h"

int ah_call_clone(struct ah_call *c, const struct ah_args_clone *a)
{
    if (a->flags < 0 || (a->flags & ~ah_clone_ns_flags()) != 0)
        return ah_badarg(c, "clone takes only CLONE_NEW* flags (got %#llx)", (unsigned long long)a->flags);
    return ah_child_spawn(c, 1, a->flags);
}
