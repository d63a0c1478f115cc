/* getgroups(2): sized by a first call, so any number of groups fits. */
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_getgroups(struct ah_call *c)
{
    int n = getgroups(0, NULL);
    if (n < 0)
        return AH_ST_ERRNO;
    gid_t *gids = ah_arena_alloc(c, (size_t)(n ? n : 1) * sizeof(gid_t));
    n = getgroups(n, gids);
    if (n < 0)
        return AH_ST_ERRNO;
    ah_mp_put_array(c->out, (uint32_t)n);
    for (int i = 0; i < n; i++)
        ah_mp_put_int(c->out, (int64_t)gids[i]);
    return AH_ST_OK;
}
