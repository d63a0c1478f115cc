/* helper_client.c: the floor of a call through the real helper, with no
 * Python and no event loop. The caller starts the helper, sets up whatever
 * the call needs (e.g. forks a pipeline), and hands over the helper's pipes:
 * argv[4] is its stdin, argv[5] its stdout. This sends argv[1] copies of the
 * frame argv[3] (hex), one at a time with a blocking write and read, the
 * request id (4 bytes at offset argv[2]) counting up from 1; checks that
 * each answer is an OK reply to it; and prints the mean round trip in
 * nanoseconds. Exits 1 on anything unexpected. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { FRAME_REPLY = 17, MAX = 1 << 16 };

static int to_helper, from_helper;

static int read_full(int fd, uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, buf, len);
        if (n <= 0)
            return -1;
        buf += n, len -= (size_t)n;
    }
    return 0;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

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
    size_t len = strlen(argv[3]) / 2;
    static uint8_t frame[MAX];
    if (n <= 0 || len > MAX || off + 4 > len)
        return 100;
    for (size_t i = 0; i < len; i++) {
        unsigned byte;
        if (sscanf(argv[3] + 2 * i, "%2x", &byte) != 1)
            return 100;
        frame[i] = (uint8_t)byte;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 1; i <= n; i++) {
        put32(frame + off, (uint32_t)i);
        if (write(to_helper, frame, len) != (ssize_t)len || read_reply((uint32_t)i) < 0)
            return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    printf("%.0f\n", ns / (double)n);
    return 0;
}
