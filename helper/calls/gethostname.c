/* gethostname(2) */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_gethostname(struct ah_call *c)
{
    char name[HOST_NAME_MAX + 1];
    if (gethostname(name, sizeof(name)) < 0)
        return AH_ST_ERRNO;
    name[HOST_NAME_MAX] = 0;
    ah_mp_put_bin(c->out, name, strlen(name));
    return AH_ST_OK;
}
