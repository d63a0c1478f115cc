/* execve(2): a path and an explicit environment. */
#include "../exec.h"
#include "../gen/calls.h"

int ah_call_execve(struct ah_call *c, const struct ah_args_execve *a) { return ah_exec(c, AH_EXEC_PATH, a->path, -1, a->argv, a->env); }
