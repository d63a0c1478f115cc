/* stream_client.c: the floor of a program's stdout through the real
 * helper, with no Python and no event loop. The caller starts the helper,
 * forks the pipeline, and hands over the helper's pipes: argv[3] is its
 * stdin, argv[4] its stdout. This writes the exec request argv[1] (hex),
 * then reads every frame: the stdout frames of the pipeline (the depth is
 * the credit frame's, argv[2] in hex, whose last 4 bytes are the amount)
 * are counted, and credit is handed back every CREDIT_BATCH bytes, as the
 * Driver does; other frames are skipped. At the empty stdout frame (end of
 * stream) it prints the bytes counted and the nanoseconds since the exec
 * request. Exits 1 on anything unexpected. */
#include "client.h"

enum { FRAME_STDOUT = 19, CREDIT_BATCH = 256 * 1024, BUF = 8 << 20, MAXHEX = 4096 };

int main(int argc, char *argv[])
{
    if (argc < 5)
        return 100;
    static uint8_t exec_frame[MAXHEX], credit[MAXHEX];
    size_t exec_len = unhex(argv[1], exec_frame, MAXHEX);
    size_t credit_len = unhex(argv[2], credit, MAXHEX);
    int to_helper = atoi(argv[3]), from_helper = atoi(argv[4]);
    if (credit_len < 11)
        return 100;
    uint8_t depth = credit[5];
    uint8_t *buf = malloc(BUF);
    if (buf == NULL)
        return 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    write_all(to_helper, exec_frame, exec_len);
    size_t start = 0, end = 0;
    uint64_t total = 0, owed = 0;
    for (;;) {
        if (end == BUF) { /* compact: keep the partial frame */
            memmove(buf, buf + start, end - start);
            end -= start, start = 0;
        }
        ssize_t n = read(from_helper, buf + end, BUF - end);
        if (n <= 0)
            return 1;
        end += (size_t)n;
        while (end - start >= 6) {
            uint32_t len = get32(buf + start);
            if (len < 2 || len > BUF - 4)
                return 1;
            if (end - start < 4 + (size_t)len)
                break;
            const uint8_t *f = buf + start + 4;
            size_t body = 2 + 4 * (size_t)f[1];
            if (f[0] == FRAME_STDOUT && f[1] == depth && body <= len) {
                size_t bytes = len - body;
                if (bytes == 0) { /* end of stream */
                    clock_gettime(CLOCK_MONOTONIC, &t1);
                    printf("%llu %.0f\n", (unsigned long long)total, elapsed_ns(&t0, &t1));
                    return 0;
                }
                total += bytes, owed += bytes;
                if (owed >= CREDIT_BATCH) {
                    put32(credit + credit_len - 4, (uint32_t)owed);
                    write_all(to_helper, credit, credit_len);
                    owed = 0;
                }
            }
            start += 4 + (size_t)len;
        }
        if (start == end)
            start = end = 0;
    }
}
