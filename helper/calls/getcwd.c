/* getcwd(3) */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_getcwd(struct ah_call *c)
{
    char buf[PATH_MAX];
    if (getcwd(buf, sizeof(buf)) == NULL)
        return AH_ST_ERRNO;
    ah_mp_put_bin(c->out, buf, strlen(buf));
    return AH_ST_OK;
}
