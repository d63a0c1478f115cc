/* readlink(2), with a buffer grown until the target fits. */
#include <errno.h>
#include <unistd.h>

#include "../gen/calls.h"

int ah_call_readlink(struct ah_call *c, const struct ah_args_readlink *a)
{
    for (size_t size = 256;; size *= 2) {
        char *buf = ah_arena_alloc(c, size);
        ssize_t n = readlink(a->path, buf, size);
        if (n < 0)
            return AH_ST_ERRNO;
        if ((size_t)n < size) {
            ah_mp_put_bin(c->out, buf, (size_t)n);
            return AH_ST_OK;
        }
        if (size >= 1 << 20) {
            errno = ENAMETOOLONG;
            return AH_ST_ERRNO;
        }
    }
}
