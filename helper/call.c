/* call.c: run one CALL frame. Decode the call id and the argument array,
 * dispatch through the generated table, and append exactly one REPLY frame
 * to the process's output (or none, for an exec that its parent answers).
 * Argument errors are replies; nothing a caller sends can crash the loop. */
#include "call.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frame.h"
#include "gen/calls.h"
#include "proc.h"

const char *const ah_handler_names[3] = {"SIG_DFL", "SIG_IGN", "SIG_INFO"};

static struct ah_buf reply_value; /* reused for every reply */

static int fail(struct ah_call *c, int status, const char *fmt, va_list ap)
{
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    c->fail = status;
    return -1;
}

int ah_badarg(struct ah_call *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail(c, AH_ST_BADARG, fmt, ap);
    va_end(ap);
    return AH_ST_BADARG;
}

static int bad(struct ah_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct ah_call *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail(c, AH_ST_BADARG, fmt, ap);
    va_end(ap);
    return -1;
}

static const struct ah_call_def *find_call(unsigned id);

void *ah_arena_alloc(struct ah_call *c, size_t n)
{
    if (c->narena == sizeof(c->arena) / sizeof(c->arena[0]))
        ah_die(AH_EXIT_TEMP, "call arena exhausted");
    void *p = ah_xmalloc(n);
    c->arena[c->narena++] = p;
    return p;
}

int ah_arg_int(struct ah_call *c, int64_t min, int64_t max, int64_t *v)
{
    if (ah_mp_read_int(&c->args, v))
        return bad(c, "expected an integer");
    if (*v < min || *v > max)
        return bad(c, "integer %lld out of range [%lld, %lld]", (long long)*v, (long long)min, (long long)max);
    return 0;
}

int ah_arg_cstr(struct ah_call *c, int nonempty, const char **s)
{
    const uint8_t *p;
    uint32_t n;
    if (ah_mp_read_bytes(&c->args, &p, &n))
        return bad(c, "expected str or bytes");
    if (nonempty && n == 0)
        return bad(c, "empty path");
    if (memchr(p, 0, n) != NULL)
        return bad(c, "embedded NUL byte");
    char *d = ah_arena_alloc(c, (size_t)n + 1);
    memcpy(d, p, n);
    d[n] = 0;
    *s = d;
    return 0;
}

int ah_arg_bytes(struct ah_call *c, struct ah_bytes *b)
{
    uint32_t n;
    if (ah_mp_read_bytes(&c->args, &b->p, &n))
        return bad(c, "expected bytes");
    b->len = n;
    return 0;
}

int ah_arg_argv(struct ah_call *c, char ***argv)
{
    uint32_t n;
    size_t total = 0;
    if (ah_mp_read_array(&c->args, &n))
        return bad(c, "expected a list of str or bytes");
    if ((size_t)n > (size_t)(c->args.end - c->args.p))
        return bad(c, "list length %u exceeds the frame", n);
    struct ah_mp scan = c->args; /* first pass: validate and size */
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p;
        uint32_t len;
        if (ah_mp_read_bytes(&scan, &p, &len))
            return bad(c, "list item %u: expected str or bytes", i);
        if (memchr(p, 0, len) != NULL)
            return bad(c, "list item %u: embedded NUL byte", i);
        total += (size_t)len + 1;
    }
    char **v = ah_arena_alloc(c, sizeof(char *) * ((size_t)n + 1) + total);
    char *s = (char *)(v + n + 1);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p;
        uint32_t len;
        (void)ah_mp_read_bytes(&c->args, &p, &len);
        memcpy(s, p, len);
        s[len] = 0;
        v[i] = s;
        s += len + 1;
    }
    v[n] = NULL;
    *argv = v;
    return 0;
}

int ah_arg_optional_argv(struct ah_call *c, char ***argv)
{
    if (ah_mp_peek(&c->args) == AH_MP_NIL) {
        (void)ah_mp_read_nil(&c->args);
        *argv = NULL;
        return 0;
    }
    return ah_arg_argv(c, argv);
}

static int one_constant(struct ah_call *c, int family, int64_t *v)
{
    const uint8_t *p;
    uint32_t n;
    char name[64];
    if (ah_mp_peek(&c->args) == AH_MP_INT) {
        if (ah_mp_read_int(&c->args, v))
            return bad(c, "bad integer constant");
        return 0;
    }
    if (ah_mp_read_bytes(&c->args, &p, &n))
        return bad(c, "expected a constant (int or name)");
    if (n == 0 || n >= sizeof(name) || memchr(p, 0, n) != NULL)
        return bad(c, "bad constant name");
    memcpy(name, p, n);
    name[n] = 0;
    if (ah_constant_lookup(family, name, v)) {
        snprintf(c->err, sizeof(c->err), "%s", name);
        c->fail = AH_ST_UNKNOWN_CONSTANT;
        return -1;
    }
    return 0;
}

int ah_arg_constant(struct ah_call *c, int family, int flags, int64_t *v)
{
    uint32_t n;
    if (!flags || ah_mp_peek(&c->args) != AH_MP_ARRAY)
        return one_constant(c, family, v);
    if (ah_mp_read_array(&c->args, &n))
        return bad(c, "bad flag list");
    *v = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t x;
        if (one_constant(c, family, &x))
            return -1;
        *v |= x;
    }
    return 0;
}

int ah_arg_option(struct ah_call *c, int *opt)
{
    const uint8_t *p;
    uint32_t n;
    if (ah_mp_read_bytes(&c->args, &p, &n))
        return bad(c, "expected an option name");
    for (int i = 0; i < AH_NOPTS; i++) {
        const char *name = ah_option_defs[i].name;
        if (strlen(name) == n && strncasecmp(name, (const char *)p, n) == 0) {
            *opt = i;
            return 0;
        }
    }
    return bad(c, "unknown option %.*s", (int)(n > 64 ? 64 : n), (const char *)p);
}

int ah_arg_handler(struct ah_call *c, int *h)
{
    const uint8_t *p;
    uint32_t n;
    if (ah_mp_peek(&c->args) == AH_MP_NIL) {
        (void)ah_mp_read_nil(&c->args);
        *h = AH_HANDLER_QUERY;
        return 0;
    }
    if (ah_mp_read_bytes(&c->args, &p, &n))
        return bad(c, "expected a handler name or None");
    for (int i = 0; i < 3; i++) {
        if (strlen(ah_handler_names[i]) == n && strncasecmp(ah_handler_names[i], (const char *)p, n) == 0) {
            *h = i;
            return 0;
        }
    }
    return bad(c, "handler must be SIG_DFL, SIG_IGN or SIG_INFO");
}

int ah_arg_ints(struct ah_call *c, int64_t min, int64_t max, struct ah_ints *v)
{
    uint32_t n;
    if (ah_mp_read_array(&c->args, &n))
        return bad(c, "expected a list of integers");
    if (n > 65536)
        return bad(c, "list of %u integers is too long", n);
    v->n = n;
    v->v = ah_arena_alloc(c, (n ? n : 1) * sizeof(int64_t));
    for (uint32_t i = 0; i < n; i++)
        if (ah_arg_int(c, min, max, &v->v[i]))
            return -1;
    return 0;
}

int ah_arg_optional_bytes(struct ah_call *c, struct ah_bytes *b)
{
    if (ah_mp_peek(&c->args) == AH_MP_NIL) {
        (void)ah_mp_read_nil(&c->args);
        b->p = NULL;
        b->len = 0;
        return 0;
    }
    return ah_arg_bytes(c, b);
}

int ah_arg_timeout(struct ah_call *c, int64_t *usec)
{
    if (ah_mp_peek(&c->args) == AH_MP_NIL) {
        (void)ah_mp_read_nil(&c->args);
        *usec = -1;
        return 0;
    }
    return ah_arg_int(c, 0, INT64_MAX, usec);
}

int ah_arg_rlimit(struct ah_call *c, struct ah_rlim *r)
{
    uint32_t n;
    if (ah_mp_read_array(&c->args, &n) || n != 2)
        return bad(c, "expected a limit [cur, max]");
    if (ah_arg_int(c, -1, INT64_MAX, &r->cur) || ah_arg_int(c, -1, INT64_MAX, &r->max))
        return -1;
    return 0;
}

int ah_arg_calls(struct ah_call *c, struct ah_callset *set)
{
    uint32_t n;
    memset(set, 0, sizeof(*set));
    if (ah_mp_read_array(&c->args, &n))
        return bad(c, "expected a list of call ids");
    for (uint32_t i = 0; i < n; i++) {
        int64_t id;
        if (ah_mp_read_int(&c->args, &id))
            return bad(c, "expected a call id");
        if (id <= 0 || id >= (int64_t)sizeof(set->bits) * 8 || find_call((unsigned)id) == NULL)
            return bad(c, "unknown call id %lld", (long long)id);
        set->bits[id / 8] |= (uint8_t)(1u << (id % 8));
    }
    return 0;
}

int ah_arg_writes(struct ah_call *c, struct ah_writes *w)
{
    uint32_t n, two;
    if (ah_mp_read_array(&c->args, &n) || n > 64)
        return bad(c, "writes: a list of at most 64 (path, data) pairs");
    w->n = n;
    w->path = ah_arena_alloc(c, (n ? n : 1) * sizeof(struct ah_bytes));
    w->data = ah_arena_alloc(c, (n ? n : 1) * sizeof(struct ah_bytes));
    for (uint32_t i = 0; i < n; i++) {
        if (ah_mp_read_array(&c->args, &two) || two != 2)
            return bad(c, "writes[%u]: expected (path, data)", i);
        if (ah_arg_bytes(c, &w->path[i]) || ah_arg_bytes(c, &w->data[i]))
            return -1;
        if (w->path[i].len == 0 || w->path[i].len >= 4000 || memchr(w->path[i].p, 0, w->path[i].len) != NULL)
            return bad(c, "writes[%u]: bad path", i);
    }
    return 0;
}

int ah_arg_steps(struct ah_call *c, struct ah_steps *s)
{
    uint32_t n, two;
    if (ah_mp_read_array(&c->args, &n) || n > 256)
        return bad(c, "steps: a list of at most 256 steps");
    s->n = n;
    s->at = c->args;
    for (uint32_t i = 0; i < n; i++) {
        int64_t id;
        if (ah_mp_read_array(&c->args, &two) || two < 2 || two > 3 || ah_mp_read_int(&c->args, &id))
            return bad(c, "steps[%u]: expected [call id, args] or [call id, args, tolerated errnos]", i);
        const struct ah_call_def *def = id > 0 && id < 65536 ? find_call((unsigned)id) : NULL;
        if (def == NULL || !def->step)
            return bad(c, "steps[%u]: call %lld cannot be a setup step", i, (long long)id);
        if (ah_mp_peek(&c->args) != AH_MP_ARRAY || ah_mp_skip(&c->args))
            return bad(c, "steps[%u]: expected an argument list", i);
        if (two == 3) {
            /* Checked in place, not stored: ah_arg_ints takes an arena slot,
             * and with one per step 64 tolerant steps (of the 256 allowed)
             * exhausted the arena, which ends the process (ah_die). */
            uint32_t nok;
            int64_t ok;
            if (ah_mp_read_array(&c->args, &nok))
                return bad(c, "steps[%u]: expected a list of tolerated errnos", i);
            for (uint32_t k = 0; k < nok; k++)
                if (ah_arg_int(c, 0, 4095, &ok))
                    return -1;
        }
    }
    return 0;
}

static const struct ah_call_def *find_call(unsigned id)
{
    size_t n = sizeof(ah_call_defs) / sizeof(ah_call_defs[0]);
    for (size_t i = 0; i < n; i++) /* ids are dense and sorted: usually hit at id-1 */
        if ((unsigned)ah_call_defs[(i + id - 1) % n].id == id)
            return &ah_call_defs[(i + id - 1) % n];
    return NULL;
}

static int dispatch_def(struct ah_call *c, const struct ah_call_def *def, const uint8_t *filter, int *saved_errno)
{
    unsigned id = (unsigned)def->id;
    uint32_t nargs;
    int st;
    /* The arguments must be one msgpack value with nothing after it, and
     * this is checked before the call runs: checked only after, a call with
     * trailing bytes took effect and was then answered BADARG. */
    struct ah_mp whole = c->args;
    if (ah_mp_skip(&whole) || whole.p != whole.end)
        return ah_badarg(c, "%s: malformed arguments or trailing bytes after them", def->name);
    if (ah_mp_read_array(&c->args, &nargs) || nargs != (uint32_t)def->nargs)
        return ah_badarg(c, "%s takes %d arguments", def->name, def->nargs);
    if (filter[id / 8] & (1u << (id % 8))) {
        snprintf(c->err, sizeof(c->err), "%s", def->name);
        return AH_ST_FILTERED;
    }
    errno = 0;
    st = def->dispatch(c);
    *saved_errno = errno;
    if (st == AH_ST_OK && c->args.p != c->args.end)
        return ah_badarg(c, "%s: trailing bytes after the arguments", def->name);
    return st;
}

static int dispatch(struct ah_call *c, unsigned id, int *saved_errno)
{
    const struct ah_call_def *def = find_call(id);
    if (def == NULL) {
        snprintf(c->err, sizeof(c->err), "unknown call id %u", id);
        return AH_ST_UNKNOWN_CALL;
    }
    return dispatch_def(c, def, ah_self.filter_self, saved_errno);
}

int ah_call_run_steps(const struct ah_steps *s, const uint8_t *filter, struct ah_setup_report *r)
{
    struct ah_mp at = s->at;
    struct ah_buf scratch = {0};
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t two;
        int64_t id;
        struct ah_call c;
        int saved_errno = 0;
        (void)ah_mp_read_array(&at, &two); /* the shape was checked by ah_arg_steps */
        (void)ah_mp_read_int(&at, &id);
        const struct ah_call_def *def = find_call((unsigned)id);
        const uint8_t *args = at.p;
        (void)ah_mp_skip(&at);
        const uint8_t *args_end = at.p;
        struct ah_mp tolerated = at; /* errnos this step may fail with; 0 = any failure */
        uint32_t ntolerated = 0;
        if (two == 3) {
            (void)ah_mp_read_array(&tolerated, &ntolerated);
            (void)ah_mp_skip(&at);
        }
        memset(&c, 0, sizeof(c));
        c.args.p = args;
        c.args.end = args_end; /* this step's arguments only */
        c.out = &scratch;
        c.fail = AH_ST_BADARG;
        ah_buf_clear(&scratch);
        errno = 0;
        int st = dispatch_def(&c, def, filter, &saved_errno);
        for (size_t k = 0; k < c.narena; k++) /* the step's decoded arguments, as ah_call_run frees them */
            free(c.arena[k]);
        for (uint32_t k = 0; st != AH_ST_OK && k < ntolerated; k++) {
            int64_t ok = -1;
            (void)ah_mp_read_int(&tolerated, &ok);
            if (ok == 0 || (st == AH_ST_ERRNO && ok == saved_errno))
                st = AH_ST_OK; /* a best-effort step, or an expected errno (EEXIST) */
        }
        if (st != AH_ST_OK) {
            r->step = (int32_t)i;
            r->status = st == AH_NOREPLY ? AH_ST_BADARG : st;
            r->err = saved_errno ? saved_errno : EIO;
            snprintf(r->msg, sizeof(r->msg), "%s%s%.80s", def->name, c.err[0] ? ": " : "", c.err);
            ah_buf_free(&scratch);
            return -1;
        }
    }
    ah_buf_free(&scratch); /* the steps' reply values were never needed */
    return 0;
}

void ah_call_run(const uint8_t *body, size_t len)
{
    struct ah_call c;
    int saved_errno = 0;
    if (len < 6)
        ah_die(AH_EXIT_PROTOCOL, "CALL frame of %zu bytes", len);
    memset(&c, 0, sizeof(c));
    c.reqid = ah_get_u32(body);
    c.args.p = body + 6;
    c.args.end = body + len;
    c.out = &reply_value;
    c.fail = AH_ST_BADARG;
    ah_buf_clear(&reply_value);
    int st = dispatch(&c, ah_get_u16(body + 4), &saved_errno);
    switch (st) {
    case AH_NOREPLY:
        break;
    case AH_ST_OK:
        ah_reply_raw(0, c.reqid, AH_ST_OK, ah_buf_head(&reply_value), ah_buf_len(&reply_value));
        break;
    case AH_ST_ERRNO:
        ah_reply_errno(0, c.reqid, saved_errno ? saved_errno : EIO);
        break;
    default:
        ah_reply_str(0, c.reqid, st, c.err);
        break;
    }
    for (size_t i = 0; i < c.narena; i++)
        free(c.arena[i]);
}

void ah_call_list(void)
{
    for (size_t i = 0; i < sizeof(ah_call_defs) / sizeof(ah_call_defs[0]); i++)
        printf("%d %s %d\n", ah_call_defs[i].id, ah_call_defs[i].name, ah_call_defs[i].nargs);
}
