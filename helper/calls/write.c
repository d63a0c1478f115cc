/* write(2) once; the count may be short. The loop's own fds are refused. */
#include <errno.h>
#include <unistd.h>

#include "../gen/calls.h"
#include "../loop.h"

int ah_call_write(struct ah_call *c, const struct ah_args_write *a)
{
    if (ah_fd_internal((int)a->fd)) {
        errno = EPERM;
        return AH_ST_ERRNO;
    }
    ssize_t n = write((int)a->fd, a->data.p, a->data.len);
    if (n < 0)
        return AH_ST_ERRNO;
    ah_mp_put_int(c->out, n);
    return AH_ST_OK;
}
