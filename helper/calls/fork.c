/* fork: a new control process one level deeper. */
#include "../child.h"
#include "../gen/calls.h"

int ah_call_fork(struct ah_call *c) { return ah_child_spawn(c, 0, 0); }
