/* readdir(3): every name, however many (alcove died past 64 KiB). */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "../gen/calls.h"

int ah_call_readdir(struct ah_call *c, const struct ah_args_readdir *a)
{
    DIR *d = opendir(a->path);
    if (d == NULL)
        return AH_ST_ERRNO;
    struct ah_buf names = {0};
    uint32_t n = 0;
    struct dirent *e;
    for (;;) {
        errno = 0;
        if ((e = readdir(d)) == NULL)
            break;
        ah_mp_put_bin(&names, e->d_name, strlen(e->d_name));
        n++;
    }
    int err = errno;
    closedir(d);
    if (err == 0) {
        ah_mp_put_array(c->out, n);
        ah_buf_append(c->out, ah_buf_head(&names), ah_buf_len(&names));
    }
    ah_buf_free(&names);
    errno = err;
    return err ? AH_ST_ERRNO : AH_ST_OK;
}
