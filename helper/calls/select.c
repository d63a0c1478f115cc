/* select(2): three lists of fds in, the ready ones out. An fd at or above
 * FD_SETSIZE is EBADF rather than a write past the fd_set; EINTR is an
 * error like any other (alcove answered badarg). A closed fd is EBADF too:
 * the kernel ignores, and leaves set, bits past the size of the process's
 * fd table, so select alone would report a closed fd 999 as ready. */
#include <errno.h>
#include <fcntl.h>
#include <sys/select.h>

#include "../gen/calls.h"

static int fill(const struct ah_ints *fds, fd_set *set, int *maxfd)
{
    FD_ZERO(set);
    for (uint32_t i = 0; i < fds->n; i++) {
        if (fds->v[i] >= FD_SETSIZE || fcntl((int)fds->v[i], F_GETFD) < 0) {
            errno = EBADF;
            return -1;
        }
        FD_SET((int)fds->v[i], set);
        if (fds->v[i] > *maxfd)
            *maxfd = (int)fds->v[i];
    }
    return 0;
}

static void put_ready(struct ah_buf *out, const struct ah_ints *fds, const fd_set *set)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < fds->n; i++)
        n += FD_ISSET((int)fds->v[i], set) ? 1 : 0;
    ah_mp_put_array(out, n);
    for (uint32_t i = 0; i < fds->n; i++)
        if (FD_ISSET((int)fds->v[i], set))
            ah_mp_put_int(out, fds->v[i]);
}

int ah_call_select(struct ah_call *c, const struct ah_args_select *a)
{
    fd_set r, w, e;
    int maxfd = -1;
    if (fill(&a->readfds, &r, &maxfd) || fill(&a->writefds, &w, &maxfd) || fill(&a->exceptfds, &e, &maxfd))
        return AH_ST_ERRNO;
    struct timeval tv, *tvp = NULL;
    if (a->timeout >= 0) {
        tv.tv_sec = (time_t)(a->timeout / 1000000);
        tv.tv_usec = (suseconds_t)(a->timeout % 1000000);
        tvp = &tv;
    }
    if (select(maxfd + 1, &r, &w, &e, tvp) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_array(c->out, 3);
    put_ready(c->out, &a->readfds, &r);
    put_ready(c->out, &a->writefds, &w);
    put_ready(c->out, &a->exceptfds, &e);
    return AH_ST_OK;
}
