/* test_buf.c: TAP unit tests of the byte queue (buf.c).
 *
 * Big-endian helpers, growth, compaction before growth, consume/clear/free,
 * length back-patching, and a model check: a long deterministic sequence
 * of appends and consumes must always leave exactly the bytes a plain array
 * model says are pending. Built with ASan+UBSan by `make check`. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tests/tap.h"


static void test_endian(void)
{
    struct ah_buf b = {0};
    ah_buf_put_u8(&b, 0x12);
    ah_buf_put_u16(&b, 0x3456);
    ah_buf_put_u32(&b, 0x789abcde);
    ok(ah_buf_len(&b) == 7 && memcmp(ah_buf_head(&b), "\x12\x34\x56\x78\x9a\xbc\xde", 7) == 0,
       "put_u8/u16/u32 write big-endian");
    ok(ah_get_u16(ah_buf_head(&b) + 1) == 0x3456 && ah_get_u32(ah_buf_head(&b) + 3) == 0x789abcde,
       "get_u16/get_u32 read big-endian");
    uint8_t p[4];
    ah_set_u32(p, 0xfffefdfc);
    ok(memcmp(p, "\xff\xfe\xfd\xfc", 4) == 0 && ah_get_u32(p) == 0xfffefdfc, "set_u32 and get_u32 agree at the top bit");
    ah_buf_free(&b);
}

static void test_append_consume(void)
{
    struct ah_buf b = {0};
    ok(ah_buf_len(&b) == 0, "a zeroed buffer is empty");
    ah_buf_append(&b, NULL, 0);
    ok(b.data == NULL && b.cap == 0, "appending nothing allocates nothing");
    ah_buf_append(&b, "abcdef", 6);
    ok(ah_buf_len(&b) == 6 && b.cap == 4096 && memcmp(ah_buf_head(&b), "abcdef", 6) == 0,
       "first append allocates 4096 bytes");
    ah_buf_consume(&b, 2);
    ok(ah_buf_len(&b) == 4 && b.start == 2 && memcmp(ah_buf_head(&b), "cdef", 4) == 0,
       "consume advances the head");
    ah_buf_consume(&b, 4);
    ok(ah_buf_len(&b) == 0 && b.start == 0 && b.end == 0, "consuming everything rewinds to offset 0");
    ah_buf_append(&b, "xy", 2);
    ah_buf_clear(&b);
    ok(ah_buf_len(&b) == 0 && b.start == 0 && b.cap == 4096, "clear empties but keeps the memory");
    ah_buf_free(&b);
    ok(b.data == NULL && b.cap == 0 && ah_buf_len(&b) == 0, "free resets the buffer");
    ah_buf_append(&b, "z", 1);
    ok(ah_buf_len(&b) == 1 && *ah_buf_head(&b) == 'z', "a freed buffer can be reused");
    ah_buf_free(&b);
}

static void test_reserve(void)
{
    struct ah_buf b = {0};
    uint8_t *w = ah_buf_reserve(&b, 10);
    ok(w == b.data && ah_buf_len(&b) == 0 && b.cap >= 10, "reserve makes room without committing it");
    memcpy(w, "0123456789", 10);
    b.end += 10;
    ok(ah_buf_len(&b) == 10 && memcmp(ah_buf_head(&b), "0123456789", 10) == 0, "committed reserved bytes are pending");
    ah_buf_free(&b);

    /* 4000 in, 3000 out, 2000 in: fits once the 1000 live bytes move to the front. */
    uint8_t chunk[4000];
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (uint8_t)i;
    ah_buf_append(&b, chunk, 4000);
    ah_buf_consume(&b, 3000);
    ah_buf_append(&b, chunk, 2000);
    ok(b.cap == 4096 && b.start == 0 && ah_buf_len(&b) == 3000, "reserve compacts before growing");
    ok(memcmp(ah_buf_head(&b), chunk + 3000, 1000) == 0 && memcmp(ah_buf_head(&b) + 1000, chunk, 2000) == 0,
       "compaction keeps the pending bytes in order");
    ah_buf_append(&b, chunk, 2000);
    ok(b.cap == 8192 && ah_buf_len(&b) == 5000, "a full buffer doubles");
    ah_buf_free(&b);

    uint8_t *big = calloc(1, 1 << 20);
    ah_buf_append(&b, big, 1 << 20);
    ah_buf_append(&b, big, 1);
    ok(b.cap == 2u << 20 && ah_buf_len(&b) == (1u << 20) + 1, "growth doubles until the request fits");
    free(big);
    ah_buf_free(&b);
}

static void test_patch(void)
{
    struct ah_buf b = {0};
    ah_buf_append(&b, "junk", 4);
    ah_buf_consume(&b, 4);
    ah_buf_append(&b, "hd", 2);
    ah_buf_consume(&b, 1);
    size_t mark = b.start + ah_buf_len(&b);
    ah_buf_put_u32(&b, 0);
    ah_buf_append(&b, "payload", 7);
    ah_buf_patch_u32(&b, mark, 7);
    ok(ah_buf_len(&b) == 12 && memcmp(ah_buf_head(&b), "d\0\0\0\x07payload", 12) == 0,
       "patch_u32 back-fills a length at an absolute offset");
    ah_buf_free(&b);
}

/* Random appends and consumes against a flat array model. */
static void test_model(void)
{
    enum { MODEL = 1 << 22 };
    uint8_t *model = malloc(MODEL);
    size_t head = 0, tail = 0, max_len = 0;
    uint32_t seed = 12345;
    struct ah_buf b = {0};
    int good = 1;
    for (int step = 0; step < 20000 && good; step++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 8) % 9000;
        if ((seed >> 4) & 1) {
            if (tail + n > MODEL) { /* slide the model's pending bytes down */
                memmove(model, model + head, tail - head);
                tail -= head;
                head = 0;
            }
            if (tail + n > MODEL)
                break;
            uint8_t tmp[9000];
            for (size_t i = 0; i < n; i++)
                tmp[i] = (uint8_t)(seed + i);
            ah_buf_append(&b, tmp, n);
            memcpy(model + tail, tmp, n);
            tail += n;
        } else {
            n = n > tail - head ? tail - head : n;
            ah_buf_consume(&b, n);
            head += n;
        }
        good = ah_buf_len(&b) == tail - head;
        if (good && tail > head)
            good = memcmp(ah_buf_head(&b), model + head, tail - head) == 0;
        max_len = tail - head > max_len ? tail - head : max_len;
    }
    ok(good, "20000 random appends/consumes match the model (peak %zu bytes pending)", max_len);
    ok(b.cap < 4 * (max_len + 9000) + 4096, "capacity stays proportional to the pending bytes (%zu)", b.cap);
    ah_buf_free(&b);
    free(model);
}

int main(void)
{
    test_endian();
    test_append_consume();
    test_reserve();
    test_patch();
    test_model();
    printf("1..%d\n", t_run);
    if (t_failed)
        printf("# %d of %d failed\n", t_failed, t_run);
    return t_failed ? 1 : 0;
}
