/* getcpid: one field of a child as its parent sees it, or nil. */
#include <string.h>

#include "../gen/calls.h"
#include "../child.h"
#include "../proc.h"

static int field(const struct ah_child *ch, const char *name, int64_t *v)
{
    if (strcmp(name, "pid") == 0)
        *v = ch->pid;
    else if (strcmp(name, "flowcontrol") == 0)
        *v = ch->credit[0];
    else if (strcmp(name, "signaloneof") == 0)
        *v = ch->signaloneof;
    else if (strcmp(name, "stdin") == 0)
        *v = ch->fd_in;
    else if (strcmp(name, "stdout") == 0)
        *v = ch->fd_out;
    else if (strcmp(name, "stderr") == 0)
        *v = ch->fd_err;
    else if (strcmp(name, "fdctl") == 0)
        *v = ch->exited || ch->mode == AH_MODE_EXECED ? -2 : ch->fd_ctl;
    else
        return -1;
    return 0;
}

int ah_call_getcpid(struct ah_call *c, const struct ah_args_getcpid *a)
{
    const struct ah_child *ch = ah_child_find((pid_t)a->pid);
    int64_t v;
    if (ch != NULL && field(ch, a->field, &v) == 0)
        ah_mp_put_int(c->out, v);
    else
        ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
