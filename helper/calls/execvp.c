/* execvp(3): PATH search, current environment. */
#include <unistd.h>

#include "../exec.h"
#include "../gen/calls.h"

extern char **environ;

int ah_call_execvp(struct ah_call *c, const struct ah_args_execvp *a)
{
    return ah_exec(c, AH_EXEC_SEARCH, a->file, -1, a->argv, environ);
}
