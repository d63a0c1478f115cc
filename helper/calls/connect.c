/* connect(2) to a raw sockaddr (None: NULL, 0). */
#include <string.h>
#include <sys/socket.h>

#include "../gen/calls.h"

int ah_call_connect(struct ah_call *c, const struct ah_args_connect *a)
{
    struct sockaddr_storage sa;
    if (a->sockaddr.len > sizeof(sa))
        return ah_badarg(c, "sockaddr of %zu bytes is longer than %zu", a->sockaddr.len, sizeof(sa));
    if (a->sockaddr.p != NULL)
        memcpy(&sa, a->sockaddr.p, a->sockaddr.len);
    const struct sockaddr *p = a->sockaddr.p != NULL ? (const struct sockaddr *)&sa : NULL;
    if (connect((int)a->fd, p, (socklen_t)a->sockaddr.len) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
