/* setopt: set one of this process's options, within its range. */
#include <errno.h>

#include "../gen/calls.h"
#include "../proc.h"

int ah_call_setopt(struct ah_call *c, const struct ah_args_setopt *a)
{
    const struct ah_option_def *d = &ah_option_defs[a->opt];
    if (a->value < d->min || a->value > d->max)
        return ah_badarg(c, "%s must be in [%lld, %lld]", d->name, (long long)d->min, (long long)d->max);
    if (a->opt == AH_OPT_MAXCHILD && (size_t)a->value < ah_self.nchildren) {
        errno = EBUSY; /* more children alive than the new limit */
        return AH_ST_ERRNO;
    }
    ah_self.opt[a->opt] = a->value;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
