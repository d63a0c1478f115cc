/* spawn_wait: fork + exec + exit status in one request (a program run for its status). */
#include "../child.h"
#include "../gen/calls.h"

int ah_call_spawn_wait(struct ah_call *c, const struct ah_args_spawn_wait *a)
{
    return ah_child_spawn_wait(c, a->file, a->argv, a->env);
}
