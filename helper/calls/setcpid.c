/* setcpid: change a child's output credit or its signal on EOF. */
#include <string.h>

#include "../gen/calls.h"
#include "../child.h"
#include "../proc.h"

int ah_call_setcpid(struct ah_call *c, const struct ah_args_setcpid *a)
{
    struct ah_child *ch = ah_child_find((pid_t)a->pid);
    bool done = false;
    if (strcmp(a->field, "flowcontrol") == 0) {
        if (a->value < -1)
            return ah_badarg(c, "flowcontrol %lld: -1 (unlimited) or a byte count", (long long)a->value);
        if (ch != NULL) {
            ch->credit[0] = ch->credit[1] = a->value;
            done = true;
        }
    } else if (strcmp(a->field, "signaloneof") == 0) {
        if (a->value < 0 || a->value > 255)
            return ah_badarg(c, "signaloneof %lld out of range [0, 255]", (long long)a->value);
        if (ch != NULL) {
            ch->signaloneof = a->value;
            done = true;
        }
    }
    ah_mp_put_bool(c->out, done);
    return AH_ST_OK;
}
