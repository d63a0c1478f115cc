/* client.h: what the C clients of the real helper (helper_client.c,
 * stream_client.c) share: big-endian fields, hex arguments, whole reads
 * and writes, and the time between two clock readings. */
#ifndef BENCH_CLIENT_H
#define BENCH_CLIENT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* The bytes of the hex string hex into out (at most max); exits 100 (usage)
 * if they do not fit or are not hex. */
static inline size_t unhex(const char *hex, uint8_t *out, size_t max)
{
    size_t len = strlen(hex) / 2;
    if (len > max)
        exit(100);
    for (size_t i = 0; i < len; i++) {
        unsigned byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
            exit(100);
        out[i] = (uint8_t)byte;
    }
    return len;
}

/* Read exactly len bytes; -1 at EOF or on an error. */
static inline int read_full(int fd, uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, buf, len);
        if (n <= 0)
            return -1;
        buf += n, len -= (size_t)n;
    }
    return 0;
}

/* Write all of len bytes; exits 1 if the helper is gone. */
static inline void write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0)
            exit(1);
        p += n, len -= (size_t)n;
    }
}

static inline double elapsed_ns(const struct timespec *t0, const struct timespec *t1)
{
    return (double)(t1->tv_sec - t0->tv_sec) * 1e9 + (double)(t1->tv_nsec - t0->tv_nsec);
}

#endif
