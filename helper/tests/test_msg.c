/* test_msg.c: TAP unit tests of the msgpack reader and writer (msg.c).
 *
 * Every integer width, both signs, str/bin at each length boundary, array
 * headers, the type classifier, and the reader's promises: it never reads
 * past its end pointer, a failed read returns -1 without moving, and skip
 * stops at its depth limit instead of exhausting the stack. Built with
 * ASan+UBSan by `make check`, so an over-read is a failure, not luck. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "tests/tap.h"


static struct ah_mp reader(const uint8_t *p, size_t n) { return (struct ah_mp){p, p + n}; }

/* ---- integers ---------------------------------------------------------- */

struct int_case {
    int64_t v;
    uint8_t marker; /* first byte of the encoding */
    size_t size;    /* bytes of the encoding */
};

static const struct int_case int_cases[] = {
    {0, 0x00, 1},
    {1, 0x01, 1},
    {127, 0x7f, 1},
    {128, 0xcc, 2},
    {255, 0xcc, 2},
    {256, 0xcd, 3},
    {65535, 0xcd, 3},
    {65536, 0xce, 5},
    {0xffffffffLL, 0xce, 5},
    {0x100000000LL, 0xd3, 9},
    {INT64_MAX, 0xd3, 9},
    {-1, 0xff, 1},
    {-32, 0xe0, 1},
    {-33, 0xd2, 5},
    {-128, 0xd2, 5},
    {-32768, 0xd2, 5},
    {INT32_MIN, 0xd2, 5},
    {(int64_t)INT32_MIN - 1, 0xd3, 9},
    {INT64_MIN, 0xd3, 9},
};

/* Every proper prefix of an encoding must fail without moving the reader. */
static int int_prefixes_fail(const uint8_t *p, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        uint8_t *copy = malloc(k ? k : 1); /* exact size: ASan catches an over-read */
        memcpy(copy, p, k);
        struct ah_mp m = reader(copy, k);
        int64_t v;
        int bad = ah_mp_read_int(&m, &v) != -1 || m.p != copy;
        free(copy);
        if (bad)
            return 0;
    }
    return 1;
}

static void test_int_roundtrip(void)
{
    for (size_t i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
        const struct int_case *tc = &int_cases[i];
        struct ah_buf b = {0};
        ah_mp_put_int(&b, tc->v);
        const uint8_t *p = ah_buf_head(&b);
        ok(ah_buf_len(&b) == tc->size && p[0] == tc->marker, "int %lld encodes as %zu bytes, marker 0x%02x",
           (long long)tc->v, tc->size, tc->marker);
        struct ah_mp m = reader(p, ah_buf_len(&b));
        int64_t v = 0;
        ok(ah_mp_peek(&m) == AH_MP_INT, "int %lld peeks as INT", (long long)tc->v);
        ok(ah_mp_read_int(&m, &v) == 0 && v == tc->v && m.p == m.end, "int %lld decodes back", (long long)tc->v);
        ok(int_prefixes_fail(p, ah_buf_len(&b)), "int %lld: every truncation is -1, reader unmoved", (long long)tc->v);
        ah_buf_free(&b);
    }
}

struct raw_int {
    uint8_t bytes[9];
    size_t len;
    int rc;
    int64_t v;
};

/* Encodings our writer never produces, but a peer may send. */
static const struct raw_int raw_ints[] = {
    {{0xcc, 0xff}, 2, 0, 255},
    {{0xcd, 0x12, 0x34}, 3, 0, 0x1234},
    {{0xce, 0xde, 0xad, 0xbe, 0xef}, 5, 0, 0xdeadbeefLL},
    {{0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, 9, 0, 0x100000000LL},
    {{0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9, 0, INT64_MAX},
    {{0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9, -1, 0}, /* uint64 above INT64_MAX */
    {{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9, -1, 0},
    {{0xd0, 0x80}, 2, 0, -128},
    {{0xd0, 0x7f}, 2, 0, 127},
    {{0xd0, 0xff}, 2, 0, -1},
    {{0xd1, 0xff, 0x7f}, 3, 0, -129},
    {{0xd1, 0x80, 0x00}, 3, 0, -32768},
    {{0xd1, 0x7f, 0xff}, 3, 0, 32767},
    {{0xd2, 0x80, 0, 0, 0}, 5, 0, INT32_MIN},
    {{0xd2, 0xff, 0xff, 0xff, 0xfe}, 5, 0, -2},
    {{0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9, 0, INT64_MIN},
    {{0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9, 0, -1},
    {{0xc0}, 1, -1, 0}, /* nil */
    {{0xc2}, 1, -1, 0}, /* false */
    {{0xa1, 'x'}, 2, -1, 0},
    {{0x90}, 1, -1, 0},
    {{0xca, 0, 0, 0, 0}, 5, -1, 0}, /* float32 */
    {{0xcb, 0, 0, 0, 0, 0, 0, 0, 0}, 9, -1, 0}, /* float64 */
    {{0xc1}, 1, -1, 0}, /* never used */
};

static void test_int_raw(void)
{
    for (size_t i = 0; i < sizeof(raw_ints) / sizeof(raw_ints[0]); i++) {
        const struct raw_int *tc = &raw_ints[i];
        uint8_t *p = malloc(tc->len);
        memcpy(p, tc->bytes, tc->len);
        struct ah_mp m = reader(p, tc->len);
        int64_t v = 0;
        int rc = ah_mp_read_int(&m, &v);
        if (tc->rc == 0)
            ok(rc == 0 && v == tc->v && m.p == m.end, "raw int %02x.. (%zu bytes) = %lld", tc->bytes[0], tc->len,
               (long long)tc->v);
        else
            ok(rc == -1 && m.p == p, "raw %02x.. (%zu bytes) is not an int64: -1, reader unmoved", tc->bytes[0],
               tc->len);
        if (tc->rc == 0)
            ok(int_prefixes_fail(p, tc->len), "raw int %02x..: every truncation is -1", tc->bytes[0]);
        free(p);
    }
}

/* ---- str and bin ------------------------------------------------------- */

static const size_t byte_lengths[] = {0, 1, 31, 32, 255, 256, 65535, 65536, 70000};

static size_t str_header(size_t n, uint8_t *marker)
{
    if (n < 32) {
        *marker = (uint8_t)(0xa0 | n);
        return 1;
    }
    *marker = n <= 0xff ? 0xd9 : n <= 0xffff ? 0xda : 0xdb;
    return n <= 0xff ? 2 : n <= 0xffff ? 3 : 5;
}

static size_t bin_header(size_t n, uint8_t *marker)
{
    *marker = n <= 0xff ? 0xc4 : n <= 0xffff ? 0xc5 : 0xc6;
    return n <= 0xff ? 2 : n <= 0xffff ? 3 : 5;
}

static int bytes_prefixes_fail(const uint8_t *p, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    int good = 1;
    memcpy(copy, p, n);
    for (size_t k = 0; k < n && good; k++) {
        /* A reader whose end is k: bytes past it exist in memory but must not be read. */
        struct ah_mp m = reader(copy, k);
        const uint8_t *d;
        uint32_t len;
        good = ah_mp_read_bytes(&m, &d, &len) == -1 && m.p == copy;
    }
    free(copy);
    return good;
}

static void check_bytes(int is_str, size_t n)
{
    const char *kind = is_str ? "str" : "bin";
    uint8_t *payload = calloc(1, n ? n : 1);
    for (size_t i = 0; i < n; i++) /* printable ASCII: a str must be UTF-8 (see test_str_utf8) */
        payload[i] = (uint8_t)(is_str ? ' ' + (i * 7 + 3) % 95 : i * 7 + 3);
    struct ah_buf b = {0};
    if (is_str)
        ah_mp_put_str(&b, (const char *)payload, n);
    else
        ah_mp_put_bin(&b, payload, n);
    uint8_t marker;
    size_t hdr = is_str ? str_header(n, &marker) : bin_header(n, &marker);
    const uint8_t *p = ah_buf_head(&b);
    ok(ah_buf_len(&b) == hdr + n && p[0] == marker, "%s of %zu bytes: marker 0x%02x, %zu-byte header", kind, n, marker,
       hdr);
    struct ah_mp m = reader(p, ah_buf_len(&b));
    const uint8_t *d = NULL;
    uint32_t len = 0;
    ok(ah_mp_peek(&m) == AH_MP_BYTES, "%s of %zu bytes peeks as BYTES", kind, n);
    ok(ah_mp_read_bytes(&m, &d, &len) == 0 && len == n && d == p + hdr && memcmp(d, payload, n) == 0 && m.p == m.end,
       "%s of %zu bytes decodes in place", kind, n);
    ok(bytes_prefixes_fail(p, ah_buf_len(&b)), "%s of %zu bytes: every truncation is -1, reader unmoved", kind, n);
    m = reader(p, ah_buf_len(&b));
    ok(ah_mp_skip(&m) == 0 && m.p == m.end, "%s of %zu bytes is skipped whole", kind, n);
    ah_buf_free(&b);
    free(payload);
}

static void test_bytes(void)
{
    for (size_t i = 0; i < sizeof(byte_lengths) / sizeof(byte_lengths[0]); i++) {
        check_bytes(1, byte_lengths[i]);
        check_bytes(0, byte_lengths[i]);
    }
    struct ah_buf b = {0};
    ah_mp_put_cstr(&b, "hello");
    ok(ah_buf_len(&b) == 6 && memcmp(ah_buf_head(&b), "\xa5hello", 6) == 0, "put_cstr writes a fixstr");
    ah_buf_free(&b);

    /* Lengths that claim more than there is, up to 4 GiB: no overflow, no read. */
    static const uint8_t liars[][6] = {
        {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, {0xc6, 0xff, 0xff, 0xff, 0xff, 'a'}, {0xda, 0xff, 0xff, 'a', 'b', 'c'},
        {0xc5, 0x00, 0x05, 'a', 'b', 'c'},   {0xd9, 0x05, 'a', 'b', 'c', 'd'},    {0xbf, 'a', 'b', 'c', 'd', 'e'},
    };
    for (size_t i = 0; i < sizeof(liars) / sizeof(liars[0]); i++) {
        uint8_t *p = malloc(6);
        memcpy(p, liars[i], 6);
        struct ah_mp m = reader(p, 6);
        const uint8_t *d;
        uint32_t len;
        ok(ah_mp_read_bytes(&m, &d, &len) == -1 && m.p == p, "0x%02x with a length past the end is -1", p[0]);
        free(p);
    }
    static const uint8_t not_bytes[] = {0x00, 0xc0, 0x90, 0xc3, 0xcc, 0xc7, 0xd4};
    for (size_t i = 0; i < sizeof(not_bytes); i++) {
        struct ah_mp m = reader(&not_bytes[i], 1);
        const uint8_t *d;
        uint32_t len;
        ok(ah_mp_read_bytes(&m, &d, &len) == -1 && m.p == &not_bytes[i], "0x%02x is not str/bin", not_bytes[i]);
    }
}

/* ---- arrays, nil, bool ------------------------------------------------- */

/* A str is sent as UTF-8: each byte that does not begin a well-formed
 * sequence becomes '?', so the length stays the same. */
static void check_str(const char *in, size_t n, const char *want, const char *what)
{
    struct ah_buf b = {0};
    ah_mp_put_str(&b, in, n);
    const uint8_t *p = ah_buf_head(&b);
    ok(ah_buf_len(&b) == n + 1 && p[0] == (0xa0 | n) && memcmp(p + 1, want, n) == 0, "put_str of %s", what);
    ah_buf_free(&b);
}

static void test_str_utf8(void)
{
    check_str("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
              "well-formed UTF-8: unchanged");
    check_str("/tmp/\xff\xfe", 7, "/tmp/??", "bytes that are never UTF-8");
    check_str("ab\xe2\x82", 4, "ab??", "a sequence cut short (snprintf truncation)");
    check_str("\xc0\xaf\xe0\x80\xaf", 5, "?????", "overlong forms");
    check_str("\xed\xa0\x80", 3, "???", "a UTF-16 surrogate");
    check_str("\xf4\x90\x80\x80", 4, "????", "above U+10FFFF");
    check_str("\x80" "a\xbf", 3, "?a?", "stray continuation bytes");
}

static void test_array(void)
{
    static const uint32_t counts[] = {0, 1, 15, 16, 65535, 65536, UINT32_MAX};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        uint32_t n = counts[i];
        struct ah_buf b = {0};
        ah_mp_put_array(&b, n);
        size_t want = n < 16 ? 1 : n <= 0xffff ? 3 : 5;
        uint8_t marker = n < 16 ? (uint8_t)(0x90 | n) : n <= 0xffff ? 0xdc : 0xdd;
        const uint8_t *p = ah_buf_head(&b);
        ok(ah_buf_len(&b) == want && p[0] == marker, "array(%u) header: %zu bytes, marker 0x%02x", n, want, marker);
        struct ah_mp m = reader(p, ah_buf_len(&b));
        uint32_t got = 0;
        ok(ah_mp_peek(&m) == AH_MP_ARRAY && ah_mp_read_array(&m, &got) == 0 && got == n && m.p == m.end,
           "array(%u) header decodes back", n);
        int good = 1;
        for (size_t k = 0; k < ah_buf_len(&b); k++) {
            m = reader(p, k);
            good &= ah_mp_read_array(&m, &got) == -1 && m.p == p;
        }
        ok(good, "array(%u): every truncated header is -1, reader unmoved", n);
        ah_buf_free(&b);
    }
    static const uint8_t not_array[] = {0x00, 0xa0, 0xc0, 0x80, 0xde};
    for (size_t i = 0; i < sizeof(not_array); i++) {
        struct ah_mp m = reader(&not_array[i], 1);
        uint32_t n;
        ok(ah_mp_read_array(&m, &n) == -1 && m.p == &not_array[i], "0x%02x is not an array", not_array[i]);
    }
}

static void test_nil_bool(void)
{
    struct ah_buf b = {0};
    ah_mp_put_nil(&b);
    ah_mp_put_bool(&b, true);
    ah_mp_put_bool(&b, false);
    ok(ah_buf_len(&b) == 3 && memcmp(ah_buf_head(&b), "\xc0\xc3\xc2", 3) == 0, "nil, true, false encode");
    struct ah_mp m = reader(ah_buf_head(&b), ah_buf_len(&b));
    ok(ah_mp_peek(&m) == AH_MP_NIL && ah_mp_read_nil(&m) == 0, "nil decodes");
    ok(ah_mp_peek(&m) == AH_MP_BOOL && ah_mp_read_nil(&m) == -1, "true is not nil");
    ok(ah_mp_skip(&m) == 0 && ah_mp_skip(&m) == 0 && m.p == m.end, "bools are skipped");
    ok(ah_mp_peek(&m) == AH_MP_END && ah_mp_read_nil(&m) == -1, "at the end: END, and nil is -1");
    ah_buf_free(&b);
}

/* The classifier, written from the msgpack spec independently of msg.c. */
static enum ah_mp_type spec_type(unsigned c)
{
    if (c <= 0x7f || c >= 0xe0 || (c >= 0xcc && c <= 0xd3))
        return AH_MP_INT; /* fixint, uint8..64, int8..64, negative fixint */
    if (c >= 0x90 && c <= 0x9f)
        return AH_MP_ARRAY;
    if (c >= 0xa0 && c <= 0xbf)
        return AH_MP_BYTES;
    switch (c) {
    case 0xc0:
        return AH_MP_NIL;
    case 0xc2:
    case 0xc3:
        return AH_MP_BOOL;
    case 0xc4: /* bin 8/16/32 */
    case 0xc5:
    case 0xc6:
    case 0xd9: /* str 8/16/32 */
    case 0xda:
    case 0xdb:
        return AH_MP_BYTES;
    case 0xdc:
    case 0xdd:
        return AH_MP_ARRAY;
    default:
        return AH_MP_OTHER; /* fixmap, map, ext, fixext, float, 0xc1 */
    }
}

static void test_peek(void)
{
    int good = 1;
    for (unsigned c = 0; c < 256; c++) {
        uint8_t byte = (uint8_t)c;
        struct ah_mp m = reader(&byte, 1);
        if (ah_mp_peek(&m) != spec_type(c)) {
            printf("#   peek(0x%02x) = %d, want %d\n", c, (int)ah_mp_peek(&m), (int)spec_type(c));
            good = 0;
        }
    }
    ok(good, "peek classifies all 256 first bytes as the spec does");
    static const uint8_t one = 0x01;
    struct ah_mp empty = reader(&one, 0);
    ok(ah_mp_peek(&empty) == AH_MP_END, "peek of nothing is END");
}

/* ---- skip -------------------------------------------------------------- */

static void test_skip(void)
{
    struct ah_buf b = {0};
    ah_mp_put_array(&b, 5); /* [1, "ab", [nil, true, [b"\x01\x02"]], -5, 2**40] then a sentinel */
    ah_mp_put_int(&b, 1);
    ah_mp_put_cstr(&b, "ab");
    ah_mp_put_array(&b, 3);
    ah_mp_put_nil(&b);
    ah_mp_put_bool(&b, true);
    ah_mp_put_array(&b, 1);
    ah_mp_put_bin(&b, "\x01\x02", 2);
    ah_mp_put_int(&b, -5);
    ah_mp_put_int(&b, (int64_t)1 << 40);
    size_t value_len = ah_buf_len(&b);
    ah_mp_put_int(&b, 42);
    const uint8_t *p = ah_buf_head(&b);
    struct ah_mp m = reader(p, ah_buf_len(&b));
    int64_t v = 0;
    ok(ah_mp_skip(&m) == 0 && m.p == p + value_len && ah_mp_read_int(&m, &v) == 0 && v == 42,
       "skip consumes exactly one nested value");
    int good = 1;
    for (size_t k = 0; k < value_len; k++) {
        m = reader(p, k);
        good &= ah_mp_skip(&m) == -1;
    }
    ok(good, "skip of every truncation of a nested value is -1");
    ah_buf_free(&b);

    /* k one-element arrays around an int: the int sits at depth k. */
    static const size_t depths[] = {1, 31, 32, 33, 64, 100000};
    for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
        size_t k = depths[i];
        uint8_t *nest = malloc(k + 1);
        memset(nest, 0x91, k);
        nest[k] = 0x01;
        m = reader(nest, k + 1);
        int rc = ah_mp_skip(&m);
        if (k <= 32)
            ok(rc == 0 && m.p == m.end, "skip of an int %zu arrays deep succeeds", k);
        else
            ok(rc == -1, "skip of an int %zu arrays deep is -1 (depth limit, no stack exhaustion)", k);
        free(nest);
    }

    static const uint8_t huge_count[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02};
    m = reader(huge_count, sizeof(huge_count));
    ok(ah_mp_skip(&m) == -1, "skip of an array claiming 2^32-1 items in 7 bytes is -1");
    static const uint8_t unsupported[][3] = {{0xc1}, {0xca, 0, 0}, {0x81, 0x01, 0x02}, {0xd4, 0x01, 0x02},
                                             {0x92, 0x01, 0xc1}};
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
        m = reader(unsupported[i], 3);
        ok(ah_mp_skip(&m) == -1, "skip of unsupported 0x%02x.. is -1", unsupported[i][0]);
    }
    m = reader(huge_count, 0);
    ok(ah_mp_skip(&m) == -1, "skip of nothing is -1");
}

/* A reply value as a call writes it, read back field by field. */
static void test_sequence(void)
{
    struct ah_buf b = {0};
    ah_mp_put_array(&b, 4);
    ah_mp_put_int(&b, -70000);
    ah_mp_put_cstr(&b, "SIGTERM");
    ah_mp_put_bin(&b, "\0\1\2", 3);
    ah_mp_put_nil(&b);
    struct ah_mp m = reader(ah_buf_head(&b), ah_buf_len(&b));
    uint32_t n = 0;
    int64_t v = 0;
    const uint8_t *d = NULL;
    uint32_t len = 0;
    ok(ah_mp_read_array(&m, &n) == 0 && n == 4, "sequence: array of 4");
    ok(ah_mp_read_int(&m, &v) == 0 && v == -70000, "sequence: int");
    ok(ah_mp_read_bytes(&m, &d, &len) == 0 && len == 7 && memcmp(d, "SIGTERM", 7) == 0, "sequence: str");
    ok(ah_mp_read_bytes(&m, &d, &len) == 0 && len == 3 && memcmp(d, "\0\1\2", 3) == 0, "sequence: bin");
    ok(ah_mp_read_nil(&m) == 0 && m.p == m.end, "sequence: nil, then the end");
    ah_buf_free(&b);
}

int main(void)
{
    test_int_roundtrip();
    test_int_raw();
    test_bytes();
    test_str_utf8();
    test_array();
    test_nil_bool();
    test_peek();
    test_skip();
    test_sequence();
    printf("1..%d\n", t_run);
    if (t_failed)
        printf("# %d of %d failed\n", t_failed, t_run);
    return t_failed ? 1 : 0;
}
