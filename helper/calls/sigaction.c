/* sigaction: choose default, ignore, or report-as-event for a signal. */
#include "../gen/calls.h"
#include "../sig.h"

int ah_call_sigaction(struct ah_call *c, const struct ah_args_sigaction *a)
{
    int old;
    if (ah_sig_set((int)a->sig, a->handler, &old) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_cstr(c->out, ah_handler_names[old]);
    return AH_ST_OK;
}
