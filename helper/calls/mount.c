/* mount(2): empty strings are passed as NULL, as alcove does. */
#include <string.h>
#include <sys/mount.h>

#include "../gen/calls.h"

static const char *or_null(const char *s)
{
    return s[0] != 0 ? s : NULL;
}

int ah_call_mount(struct ah_call *c, const struct ah_args_mount *a)
{
    char *data = NULL;
    if (a->data.len > 0) { /* NUL-terminated copy: the kernel reads a string */
        data = ah_arena_alloc(c, a->data.len + 1);
        memcpy(data, a->data.p, a->data.len);
        data[a->data.len] = 0;
    }
    if (mount(or_null(a->source), a->target, or_null(a->fstype), (unsigned long)a->flags, data) < 0)
        return AH_ST_ERRNO;
    ah_mp_put_nil(c->out);
    return AH_ST_OK;
}
