/* setgroups(2) */
#define _GNU_SOURCE
#include <grp.h>

#include "../gen/calls.h"

int ah_call_setgroups(struct ah_call *c, const struct ah_args_setgroups *a)
{
    gid_t *gids = ah_arena_alloc(c, (a->groups.n ? a->groups.n : 1) * sizeof(gid_t));
    for (uint32_t i = 0; i < a->groups.n; i++)
        gids[i] = (gid_t)a->groups.v[i];
    if (setgroups(a->groups.n, gids) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
