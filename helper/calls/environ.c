/* environ: the whole environment, as a list of NAME=value. */
#include <string.h>

#include "../gen/calls.h"

extern char **environ;

int ah_call_environ(struct ah_call *c)
{
    uint32_t n = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    ah_mp_put_array(c->out, n);
    for (uint32_t i = 0; i < n; i++)
        ah_mp_put_bin(c->out, environ[i], strlen(environ[i]));
    return AH_ST_OK;
}
