/* version: the helper's version string. */
#include "../gen/calls.h"
#include "../gen/wire.h"

int ah_call_version(struct ah_call *c)
{
    ah_mp_put_cstr(c->out, AH_VERSION);
    return AH_ST_OK;
}
