/* setproctitle: overwrite the argv area the kernel shows in
 * /proc/PID/cmdline, and set the thread name (comm) too. */
#include <string.h>
#include <sys/prctl.h>

#include "../gen/calls.h"
#include "../util.h"

int ah_call_setproctitle(struct ah_call *c, const struct ah_args_setproctitle *a)
{
    if (ah_argv_area != NULL && ah_argv_len > 1) {
        size_t n = strlen(a->title);
        if (n > ah_argv_len - 1)
            n = ah_argv_len - 1;
        memset(ah_argv_area, 0, ah_argv_len);
        memcpy(ah_argv_area, a->title, n);
    }
    (void)prctl(PR_SET_NAME, a->title, 0, 0, 0);
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
