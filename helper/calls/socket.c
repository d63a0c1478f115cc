/* socket(2) */
#include <sys/socket.h>

#include "../gen/calls.h"

int ah_call_socket(struct ah_call *c, const struct ah_args_socket *a)
{
    int fd = socket((int)a->domain, (int)a->type, (int)a->protocol);
    if (fd < 0)
        return AH_ST_ERRNO;
    ah_mp_put_int(c->out, fd);
    return AH_ST_OK;
}
