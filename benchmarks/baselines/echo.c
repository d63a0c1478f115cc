/* echo.c: the raw floor of an awaitable call through a helper. Reads
 * length-prefixed frames (|len:4|payload|, big-endian) from stdin and writes
 * each back unchanged, batching every complete frame of one read into one
 * write: the least any helper can do per request. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static unsigned char in[1 << 16], out[1 << 16];

int main(void)
{
    size_t have = 0;
    for (;;) {
        ssize_t n = read(0, in + have, sizeof(in) - have);
        if (n <= 0)
            return 0;
        have += (size_t)n;
        size_t pos = 0, o = 0;
        while (have - pos >= 4) {
            uint32_t len = ((uint32_t)in[pos] << 24) | ((uint32_t)in[pos + 1] << 16) | ((uint32_t)in[pos + 2] << 8) | in[pos + 3];
            if (len > sizeof(in) - 4)
                return 1;
            if (have - pos < 4 + len)
                break;
            memcpy(out + o, in + pos, 4 + len);
            o += 4 + len;
            pos += 4 + len;
        }
        for (size_t w = 0; w < o;) {
            ssize_t m = write(1, out + w, o - w);
            if (m <= 0)
                return 1;
            w += (size_t)m;
        }
        memmove(in, in + pos, have - pos);
        have -= pos;
    }
}
