/* cpid: the children of this process, as seen from here. */
#include "../gen/calls.h"
#include "../proc.h"

static const char *state(const struct ah_child *ch)
{
    if (ch->exited)
        return "exited";
    switch (ch->mode) {
    case AH_MODE_LOOP:
        return "loop";
    case AH_MODE_EXEC_PENDING:
        return "exec_pending";
    case AH_MODE_EXECED:
        return "execed";
    default:
        return "unknown";
    }
}

int ah_call_cpid(struct ah_call *c)
{
    ah_mp_put_array(c->out, (uint32_t)ah_self.nchildren);
    for (size_t i = 0; i < ah_self.nchildren; i++) {
        const struct ah_child *ch = ah_self.children[i];
        ah_mp_put_array(c->out, 8);
        ah_mp_put_int(c->out, ch->pid);
        ah_mp_put_cstr(c->out, state(ch));
        ah_mp_put_int(c->out, ch->fd_in);
        ah_mp_put_int(c->out, ch->fd_out);
        ah_mp_put_int(c->out, ch->fd_err);
        ah_mp_put_int(c->out, ch->fd_ctl);
        ah_mp_put_int(c->out, ch->credit[0]);
        ah_mp_put_int(c->out, ch->signaloneof);
    }
    return AH_ST_OK;
}
