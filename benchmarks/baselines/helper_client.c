/* helper_client.c: the floor of a call through the real helper, with no
 * Python and no event loop. The caller starts the helper, sets up whatever
 * the call needs (e.g. forks a pipeline), and hands over the helper's pipes:
 * argv[4] is its stdin, argv[5] its stdout. This sends argv[1] copies of the
 * frame argv[3] (hex), one at a time with a blocking write and read, the
 * request id (4 bytes at offset argv[2]) counting up from 1; checks that
 * each answer is an OK reply to it; and prints the mean round trip in
 * nanoseconds. Exits 1 on anything unexpected. */
#include "client.h"

enum { FRAME_REPLY = 17, MAX = 1 << 16 };

static int to_helper, from_helper;

/* Read one frame; 0 if it is an OK reply to reqid. */
static int read_reply(uint32_t reqid)
{
    static uint8_t buf[MAX];
    if (read_full(from_helper, buf, 4) < 0)
        return -1;
    uint32_t len = get32(buf);
    if (len < 2 || len > MAX || read_full(from_helper, buf, len) < 0)
        return -1;
    size_t body = 2 + 4 * (size_t)buf[1];
    if (buf[0] != FRAME_REPLY || len < body + 5 || get32(buf + body) != reqid || buf[body + 4] != 0)
        return -1;
    return 0;
}

int main(int argc, char *argv[])
{
    if (argc < 6)
        return 100;
    to_helper = atoi(argv[4]);
    from_helper = atoi(argv[5]);
    long n = atol(argv[1]);
    size_t off = (size_t)atol(argv[2]);
    static uint8_t frame[MAX];
    size_t len = unhex(argv[3], frame, MAX);
    if (n <= 0 || off + 4 > len)
        return 100;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 1; i <= n; i++) {
        put32(frame + off, (uint32_t)i);
        write_all(to_helper, frame, len);
        if (read_reply((uint32_t)i) < 0)
            return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.0f\n", elapsed_ns(&t0, &t1) / (double)n);
    return 0;
}
