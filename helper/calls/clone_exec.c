/* clone_exec: clone into namespaces, write from the parent, set up in the
 * child, exec: one request and no round trip per step. */
#include "../child.h"
#include "../gen/calls.h"

int ah_call_clone_exec(struct ah_call *c, const struct ah_args_clone_exec *a)
{
    if (a->flags < 0 || (a->flags & ~ah_clone_ns_flags()) != 0)
        return ah_badarg(c, "clone_exec takes only CLONE_NEW* flags (got %#llx)", (unsigned long long)a->flags);
    return ah_child_clone_exec(c, a->flags, &a->writes, &a->steps, a->file, a->argv, a->env);
}
