/* clone_exec: clone into namespaces, write from the parent, set up in the
 * child, exec: one request and no round trip per step. */
#include "../child.h"
#include "../gen/calls.h"

int ah_call_clone_exec(struct ah_call *c, const struct ah_args_clone_exec *a)
{
    return ah_child_clone_exec(c, a->flags, &a->writes, &a->steps, a->file, a->argv, a->env);
}
