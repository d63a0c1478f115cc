/* filter: deny calls to this process and, with calls_for_children, only to
 * the processes it forks later. Bits are only ever added. */
#include "../gen/calls.h"
#include "../proc.h"

int ah_call_filter(struct ah_call *c, const struct ah_args_filter *a)
{
    for (size_t i = 0; i < sizeof(ah_self.filter_self); i++) {
        ah_self.filter_self[i] |= a->calls.bits[i];
        ah_self.filter_children[i] |= a->calls.bits[i] | a->calls_for_children.bits[i];
    }
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
