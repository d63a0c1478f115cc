/* fuzz_decode.c: libFuzzer target for everything the helper does with bytes
 * from its parent before a system call would run.
 *
 * The input is what the parent writes to the helper's stdin: a sequence of
 * |len:4|type:1|depth:1|pid:4 x depth|body| frames. Each complete frame goes
 * through the real route() of loop.c (included below, since it is static),
 * so framing, depth and body checks, local handling, the reply encoders,
 * call dispatch, the argument decoders of call.c and gen/calls.h, and the
 * forward/stdin/close/credit paths to children are the helper's own code.
 *
 * What is not real: every call body (ah_call_<name>) is a stub generated
 * from gen/calls.h by the Makefile (fuzz/build/call_stubs.h), so no input
 * can fork, exec, kill or chdir (fork, clone, kill and the execs are also
 * replaced by functions that abort, so a path that escapes the stubs is a
 * crash); clone_exec's stub still decodes and runs its setup steps against
 * the stubs, as its child would; the helper has three fake children whose
 * only pipe is stdin, either unopened or on /dev/null; and ah_die
 * is wrapped (-Wl,--wrap=ah_die) so a protocol exit (101) ends the input
 * the way the real helper would end, instead of ending the fuzzer.
 *
 * Oracle, beyond the sanitizers: after each frame the output must be
 * exactly the replies the protocol promises (how many, to whom, which
 * reqid), each a well-formed REPLY frame whose value is one msgpack value;
 * a protocol exit must come before any output for that frame; and a frame
 * forwarded to a child must arrive in its queue with the first pid removed.
 */
#include "../loop.c" /* first: it defines _GNU_SOURCE; brings route() */

#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "gen/calls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
_Noreturn void __wrap_ah_die(int code, const char *fmt, ...);

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_decode: %s:%d: oracle failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* ---- stubs for the call bodies ----------------------------------------- */

static volatile uint8_t sink;
static bool in_steps;     /* clone_exec's steps are running (they have no reqid) */
static unsigned step_seq; /* so their stubs still answer all four ways */

static void touch(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        sink ^= b[i];
}

/* Read the decoded arguments (so ASan checks them) and answer in one of the
 * four ways a real call can, chosen by the request id. */
static int stub_ran; /* the answer of the frame's (top-level) stub, or -2 */

static int fuzz_stub(struct ah_call *c, const void *args, size_t size)
{
    touch(args, size);
    if (!in_steps)
        stub_ran = (int)(c->reqid % 4);
    switch ((in_steps ? step_seq++ : c->reqid) % 4) {
    case 0:
        ah_mp_put_nil(c->out);
        return AH_ST_OK;
    case 1:
        errno = EPERM;
        return AH_ST_ERRNO;
    case 2:
        return ah_badarg(c, "stub of request %u", (unsigned)c->reqid);
    default:
        return AH_NOREPLY; /* as exec does */
    }
}

/* clone_exec's stub does what the real call does with its arguments before
 * and after the fork, minus the fork: it reads every write, and it runs the
 * steps through ah_call_run_steps, so each step's arguments go through its
 * own call's decoders, the filter check and the tolerated-errno loop (the
 * steps' bodies are stubs too). The generated stub becomes the tail. */
int fuzz_stub_clone_exec(struct ah_call *c, const struct ah_args_clone_exec *a);
#define ah_call_clone_exec fuzz_stub_clone_exec
#include "fuzz/build/call_stubs.h"
#undef ah_call_clone_exec

int ah_call_clone_exec(struct ah_call *c, const struct ah_args_clone_exec *a)
{
    struct ah_setup_report r;
    for (uint32_t i = 0; i < a->writes.n; i++) {
        touch(a->writes.path[i].p, a->writes.path[i].len);
        touch(a->writes.data[i].p, a->writes.data[i].len);
    }
    memset(&r, 0, sizeof(r));
    in_steps = true;
    step_seq = c->reqid;
    if (ah_call_run_steps(&a->steps, ah_self.filter_children, &r) < 0) {
        CHECK(r.step >= 0 && (uint32_t)r.step < a->steps.n && r.status != AH_ST_OK);
        CHECK(memchr(r.msg, 0, sizeof(r.msg)) != NULL);
    }
    in_steps = false;
    return fuzz_stub_clone_exec(c, a);
}

/* ---- nothing may leave the process -------------------------------------- */

/* Every call body is a stub, so no input should reach these; if one does (a
 * path outside the call bodies that forks, execs or signals), this binary
 * aborts instead of doing it. They take the place of libc's (and of the
 * sanitizers' weak interceptors) at link time. */
static _Noreturn void escaped(const char *what)
{
    fprintf(stderr, "fuzz_decode: %s reached outside a stub\n", what);
    abort();
}

pid_t fork(void) { escaped("fork"); }
pid_t vfork(void) { escaped("vfork"); }
int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
    (void)fn, (void)stack, (void)flags, (void)arg;
    escaped("clone");
}
int kill(pid_t pid, int sig)
{
    (void)pid, (void)sig;
    escaped("kill");
}
int execve(const char *path, char *const argv[], char *const envp[])
{
    (void)path, (void)argv, (void)envp;
    escaped("execve");
}
int execvpe(const char *file, char *const argv[], char *const envp[])
{
    (void)file, (void)argv, (void)envp;
    escaped("execvpe");
}
int fexecve(int fd, char *const argv[], char *const envp[])
{
    (void)fd, (void)argv, (void)envp;
    escaped("fexecve");
}

/* ---- protocol exits ---------------------------------------------------- */

static jmp_buf die_env;

_Noreturn void __wrap_ah_die(int code, const char *fmt, ...)
{
    (void)fmt;
    CHECK(code == AH_EXIT_PROTOCOL); /* anything else is a helper bug */
    longjmp(die_env, 1);
}

/* ---- fake children ----------------------------------------------------- */

/* 100: a control process whose stdin is not open, so what is forwarded to it
 * stays in its queue for the oracle to inspect; 101: an exec'd program and
 * 102: a control process, both with stdin on /dev/null, so writes, acks and
 * closes run for real without going anywhere. */
enum { QUEUE_PID = 100, EXECED_PID = 101, LOOP_PID = 102, NFAKE = 3 };

static struct ah_child fake[NFAKE];
static struct ah_child *fake_table[NFAKE] = {&fake[0], &fake[1], &fake[2]};

static void reset_children(void)
{
    static bool started;
    for (int i = 0; i < NFAKE && !started; i++)
        fake[i].fd_in = -1;
    started = true;
    for (int i = 0; i < NFAKE; i++) {
        struct ah_child *c = &fake[i];
        int fd_in = c->fd_in;
        if (i > 0 && fd_in < 0) /* first use, or closed by a CLOSE_STDIN */
            fd_in = open("/dev/null", O_WRONLY | O_CLOEXEC);
        CHECK(i == 0 || fd_in >= 0);
        struct ah_buf q = c->in_q; /* memory kept from input to input */
        struct ah_ack *acks = c->acks;
        size_t cap_acks = c->cap_acks;
        ah_buf_clear(&q);
        *c = (struct ah_child){.pid = QUEUE_PID + i, .fd_in = i ? fd_in : -1, .fd_out = -1, .fd_err = -1,
                               .fd_ctl = -1, .mode = i == 1 ? AH_MODE_EXECED : AH_MODE_LOOP, .credit = {0, -1},
                               .in_q = q, .acks = acks, .cap_acks = cap_acks};
    }
    ah_self.children = fake_table;
    ah_self.nchildren = ah_self.cap_children = NFAKE;
}

/* ---- the oracle -------------------------------------------------------- */

struct reply {
    uint8_t depth;
    uint32_t pid, reqid;
    uint8_t status;
};

/* Well-formed UTF-8, decoded rather than pattern-matched (msg.c does the
 * latter, so the oracle does not share its mistakes). */
static bool utf8_ok(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t c = p[i], need, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0)
            need = 1, min = 0x80, c &= 0x1f;
        else if ((c & 0xf0) == 0xe0)
            need = 2, min = 0x800, c &= 0x0f;
        else if ((c & 0xf8) == 0xf0)
            need = 3, min = 0x10000, c &= 0x07;
        else
            return false;
        if (n - i - 1 < need)
            return false;
        for (uint32_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (p[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

/* Every str in the (well-formed) value v is UTF-8: the Driver refuses a
 * reply that has one that is not, as a fatal protocol error. */
static bool strs_ok(struct ah_mp *v)
{
    const uint8_t *d;
    uint32_t n;
    uint8_t c = *v->p;
    if ((c >= 0xa0 && c <= 0xbf) || (c >= 0xd9 && c <= 0xdb))
        return ah_mp_read_bytes(v, &d, &n) == 0 && utf8_ok(d, n);
    if (ah_mp_peek(v) != AH_MP_ARRAY)
        return ah_mp_skip(v) == 0;
    if (ah_mp_read_array(v, &n))
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (!strs_ok(v))
            return false;
    return true;
}

/* Parse the output as REPLY frames; returns how many, the first in *r. */
static int parse_replies(const uint8_t *p, size_t n, struct reply *r)
{
    int count = 0;
    while (n > 0) {
        CHECK(n >= 4);
        uint32_t len = ah_get_u32(p);
        CHECK(len <= n - 4 && len >= 2);
        const uint8_t *f = p + 4;
        CHECK(f[0] == AH_F_REPLY);
        size_t hdr = 2 + 4 * (size_t)f[1];
        CHECK(len >= hdr + 5);
        struct ah_mp v = {f + hdr + 5, f + len};
        CHECK(ah_mp_skip(&v) == 0 && v.p == v.end); /* exactly one value */
        v.p = f + hdr + 5;
        CHECK(strs_ok(&v));
        CHECK(f[hdr + 4] <= AH_ST_FILTERED);
        if (count++ == 0)
            *r = (struct reply){f[1], f[1] ? ah_get_u32(f + 2) : 0, ah_get_u32(f + hdr), f[hdr + 4]};
        p += 4 + len;
        n -= 4 + len;
    }
    return count;
}

static bool known_call(unsigned id)
{
    for (size_t i = 0; i < sizeof(ah_call_defs) / sizeof(ah_call_defs[0]); i++)
        if ((unsigned)ah_call_defs[i].id == id)
            return true;
    return false;
}

/* The frame went down to a child: written to /dev/null if its stdin is
 * open, else waiting in its queue, one pid shorter. (A loop child whose
 * stdin is closed, QUEUE_PID from the start or LOOP_PID after a CLOSE_STDIN
 * earlier in the input, is shutting down: frames for it get NOPROC.) */
static void check_forwarded(const struct ah_child *c, const uint8_t *f, uint32_t len)
{
    const struct ah_buf *q = &c->in_q;
    CHECK(c->in_queued == len);
    if (c->fd_in >= 0) {
        CHECK(ah_buf_len(q) == 0);
        return;
    }
    CHECK(ah_buf_len(q) == len);
    const uint8_t *g = ah_buf_head(q);
    CHECK(ah_get_u32(g) == len - 4 && g[4] == f[0] && g[5] == f[1] - 1);
    CHECK(memcmp(g + 6, f + 6, len - 6) == 0);
}

/* What route() must have written for a frame it accepted. */
static void check_outcome(const uint8_t *f, uint32_t len)
{
    uint8_t type = f[0], depth = f[1];
    const uint8_t *body = f + 2 + 4 * (size_t)depth;
    uint32_t reqid = ah_get_u32(body); /* every frame type's body has 4+ bytes */
    bool answers = type != AH_F_CREDIT;
    struct reply r = {0};
    size_t out_len = ah_buf_len(&ah_self.out); /* no head before the first byte: data is NULL */
    int n = out_len ? parse_replies(ah_buf_head(&ah_self.out), out_len, &r) : 0;
    uint32_t pid0 = depth ? ah_get_u32(f + 2) : 0;
    /* the state the frame found: routing it changes neither mode nor fd_in */
    const struct ah_child *ch = pid0 >= QUEUE_PID && pid0 < QUEUE_PID + NFAKE ? &fake[pid0 - QUEUE_PID] : NULL;

    if (depth == 0 && type == AH_F_CALL) {
        CHECK(n <= 1 && (n == 1 || reqid % 4 == 3));
        if (stub_ran == 0) /* a call that ran and succeeded is answered so, not refused after the fact */
            CHECK(n == 1 && r.status == AH_ST_OK);
        if (n == 1 && !known_call(ah_get_u16(body + 4)))
            CHECK(r.status == AH_ST_UNKNOWN_CALL);
    } else if (depth == 0) {
        CHECK(n == (answers ? 1 : 0) && (!answers || r.status == AH_ST_BADARG));
    } else if (ch != NULL && ch->mode == AH_MODE_LOOP && ch->fd_in >= 0 && (depth > 1 || type == AH_F_CALL)) {
        CHECK(n == 0);
        check_forwarded(ch, f, len);
    } else if (ch != NULL && depth == 1 && type != AH_F_CALL) {
        CHECK(n == (answers ? 1 : 0));
        if (n)
            CHECK(r.depth == 1 && r.pid == pid0);
    } else {
        CHECK(n == (answers ? 1 : 0) && (!answers || r.status == AH_ST_NOPROC));
    }
    if (n)
        CHECK(r.reqid == reqid);
}

/* ---- driving ----------------------------------------------------------- */

/* Route one frame (an exact-size copy, so any over-read is caught).
 * Returns false if the helper would have exited on it. */
static bool route_one(const uint8_t *frame, uint32_t len)
{
    uint8_t *f = ah_xmalloc(len);
    volatile bool served = false;
    memcpy(f, frame, len);
    ah_buf_clear(&ah_self.out);
    for (int i = 0; i < NFAKE; i++) { /* so the oracle sees this frame alone */
        ah_buf_clear(&fake[i].in_q);
        fake[i].in_queued = 0;
        fake[i].nacks = 0;
    }
    stub_ran = -2;
    if (setjmp(die_env) == 0) {
        route(f, len);
        served = true;
        check_outcome(f, len);
    } else {
        CHECK(ah_buf_len(&ah_self.out) == 0); /* it dies before answering */
    }
    free(f);
    return served;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    reset_children();
    /* The framing loop of on_stdin(), which reads fd 0 itself. */
    while (size - off >= 4) {
        uint32_t len = ah_get_u32(data + off);
        if (len > AH_MAX_FRAME)
            break; /* on_stdin dies: exit 101 */
        if (size - off - 4 < len)
            break; /* incomplete: waits for more, or EOF */
        if (!route_one(data + off + 4, len))
            break;
        off += 4 + (size_t)len;
    }
    ah_buf_clear(&ah_self.out);
    return 0;
}
