/* close(2), except the fds the loop itself runs on. */
#include <errno.h>
#include <unistd.h>

#include "../gen/calls.h"
#include "../loop.h"

int ah_call_close(struct ah_call *c, const struct ah_args_close *a)
{
    if (ah_fd_internal((int)a->fd)) {
        errno = EPERM;
        return AH_ST_ERRNO;
    }
    if (close((int)a->fd) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
