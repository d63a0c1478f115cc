/* fcntl(2) with an integer argument. Commands that take a pointer (locks,
 * owner ex) are refused: the argument would be taken as an address. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>

#include "../gen/calls.h"

int ah_call_fcntl(struct ah_call *c, const struct ah_args_fcntl *a)
{
    switch (a->cmd) {
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
    case F_GETOWN_EX:
    case F_SETOWN_EX:
        return ah_badarg(c, "fcntl command %lld takes a pointer", (long long)a->cmd);
    default:
        break;
    }
    int r = fcntl((int)a->fd, (int)a->cmd, (long)a->arg);
    if (r < 0)
        return AH_ST_ERRNO;
    ah_mp_put_int(c->out, r);
    return AH_ST_OK;
}
