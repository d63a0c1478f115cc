/* spawn: fork + exec in one request (the fast path for running a program). */
#include "../child.h"
#include "../gen/calls.h"

int ah_call_spawn(struct ah_call *c, const struct ah_args_spawn *a)
{
    return ah_child_spawn_exec(c, a->file, a->argv, a->env);
}
