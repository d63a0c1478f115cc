/* exit: the control process replies, flushes and exits; its parent reports it. */
#include <unistd.h>

#include "../frame.h"
#include "../gen/calls.h"

int ah_call_exit(struct ah_call *c, const struct ah_args_exit *a)
{
    ah_reply_ok(0, c->reqid);
    ah_out_flush();
    _exit((int)a->status);
}
