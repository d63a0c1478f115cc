/* fcntl(2) with an integer argument. Only commands known to take an integer
 * are passed on: any other (locks, owner ex, rw hints, a future command)
 * might take a pointer, and the argument would be an address in the
 * process that the kernel writes to. A list of allowed commands rather than
 * of refused ones: the lock commands have several numbers, which differ
 * between ABIs (F_GETLK and F_GETLK64 are one number or two, depending on
 * the word size and off_t), so a list of refused ones would miss some. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>

#include "../gen/calls.h"

static bool takes_int(int64_t cmd)
{
    static const int ok[] = {
        F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETOWN, F_SETOWN, F_GETSIG, F_SETSIG,
        F_GETLEASE, F_SETLEASE, F_NOTIFY, F_GETPIPE_SZ, F_SETPIPE_SZ, F_ADD_SEALS, F_GET_SEALS,
#ifdef F_DUPFD_QUERY
        F_DUPFD_QUERY,
#endif
#ifdef F_CREATED_QUERY
        F_CREATED_QUERY,
#endif
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (cmd == ok[i])
            return true;
    return false;
}

int ah_call_fcntl(struct ah_call *c, const struct ah_args_fcntl *a)
{
    if (!takes_int(a->cmd))
        return ah_badarg(c, "fcntl command %lld does not take an integer (commands taking a pointer are refused)",
                         (long long)a->cmd);
    int r = fcntl((int)a->fd, (int)a->cmd, (long)a->arg);
    if (r < 0)
        return AH_ST_ERRNO;
    ah_mp_put_int(c->out, r);
    return AH_ST_OK;
}
