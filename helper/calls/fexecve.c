/* fexecve(3): exec the program open on fd. */
#include "../exec.h"
#include "../gen/calls.h"

int ah_call_fexecve(struct ah_call *c, const struct ah_args_fexecve *a)
{
    return ah_exec(c, AH_EXEC_FD, NULL, (int)a->fd, a->argv, a->env);
}
