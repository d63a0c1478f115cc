/* loop.c: the control loop.
 *
 * Theory of operation. One thread, one epoll. Each turn: bring the interest
 * set up to date with the state (only fds we want events from, so a hung-up
 * pipe we are not reading cannot spin us), wait, then handle what is ready:
 * signals, children's pipes, and our own stdin, where every complete frame
 * is routed: run here (depth 0), handled here on behalf of a child (stdin,
 * close, credit for pipeline [child]), or forwarded one hop down. Replies
 * and events collect in the output buffer, written upward once per turn.
 * EOF on stdin starts shutdown: children are signalled, then killed when
 * the grace period ends, and the process exits once none is left.
 */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "frame.h"
#include "proc.h"
#include "sig.h"
#include "util.h"

#define AH_STDIN_CHUNK (256 * 1024)

static bool stdin_probe; /* big stdin frames come: read heads first, to splice their bodies */

struct ah_proc ah_self = {.ctl_fd = -1, .sig_fd = -1};

static int epfd = -1;
static struct ah_watch w_sig = {NULL, AH_W_SIG, 0}, w_stdin = {NULL, AH_W_STDIN, 0};

bool ah_fd_internal(int fd)
{
    if (fd == 0 || fd == 1 || fd == epfd || fd == ah_self.sig_fd || fd == ah_self.ctl_fd)
        return true;
    for (size_t i = 0; i < ah_self.nchildren; i++) {
        const struct ah_child *c = ah_self.children[i];
        if (fd == c->fd_in || fd == c->fd_out || fd == c->fd_err || fd == c->fd_ctl)
            return true;
    }
    return false;
}

int64_t ah_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Make fd's registered interest `want` (0: not registered). */
static void arm(int fd, struct ah_watch *w, uint32_t want)
{
    if (fd < 0) {
        w->armed = 0;
        return;
    }
    if (want == w->armed)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = w};
    int op = w->armed == 0 ? EPOLL_CTL_ADD : want == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (epoll_ctl(epfd, op, fd, &ev) < 0)
        ah_die_errno("epoll_ctl");
    w->armed = want;
}

void ah_loop_unwatch(int fd, struct ah_watch *w) { arm(fd, w, 0); }

/* Bring the interest set up to date with the state: only fds we want events
 * from are registered, so a hung-up pipe we are not reading cannot spin us.
 * A loop over the children, but a system call only where interest changed. */
static void sync_interest(void)
{
    arm(ah_self.sig_fd, &w_sig, EPOLLIN);
    arm(STDIN_FILENO, &w_stdin, ah_self.shutting_down ? 0 : EPOLLIN);
    for (size_t i = 0; i < ah_self.nchildren; i++) {
        struct ah_child *c = ah_self.children[i];
        bool out = c->mode == AH_MODE_LOOP || (c->mode == AH_MODE_EXECED && c->credit[0] != 0);
        bool in = ah_buf_len(&c->in_q) > 0 && c->mode != AH_MODE_EXEC_PENDING;
        arm(c->fd_out, &c->watch[AH_OUT], out ? EPOLLIN : 0);
        /* Not while an exec is pending: a clone_exec child that fails must
         * leave no trace, not even the end of its stderr (read at exit). */
        bool err = c->credit[1] != 0 && c->mode != AH_MODE_EXEC_PENDING;
        arm(c->fd_err, &c->watch[AH_ERR], err ? EPOLLIN : 0);
        arm(c->fd_ctl, &c->watch[AH_CTL], EPOLLIN);
        arm(c->fd_in, &c->watch[AH_IN], in ? EPOLLOUT : 0);
    }
}

/* A frame we cannot parse: our state may be corrupt, so we stop serving,
 * but the replies to the frames before it still go out. */
static _Noreturn void protocol_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void protocol_error(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ah_out_flush();
    ah_die(AH_EXIT_PROTOCOL, "%s", msg);
}

/* A request for pid that cannot be delivered: answer it if it expects an answer. */
static void no_such_process(uint8_t type, const uint8_t *body, size_t blen, const char *why)
{
    if ((type == AH_F_CALL || type == AH_F_STDIN || type == AH_F_CLOSE_STDIN) && blen >= 4)
        ah_reply_str(0, ah_get_u32(body), AH_ST_NOPROC, why);
}

static void on_parent_op(struct ah_child *c, uint8_t type, const uint8_t *body, size_t blen)
{
    switch (type) {
    case AH_F_STDIN:
        ah_child_stdin(c, ah_get_u32(body), body + 4, blen - 4);
        break;
    case AH_F_CLOSE_STDIN:
        ah_child_close_stdin(c, ah_get_u32(body));
        break;
    case AH_F_CREDIT:
        ah_child_credit(c, body[0], ah_get_u32(body + 1));
        break;
    default:
        protocol_error("frame type %u", type);
    }
}

static void on_local(uint8_t type, const uint8_t *body, size_t blen)
{
    switch (type) {
    case AH_F_CALL:
        ah_call_run(body, blen);
        break;
    case AH_F_STDIN:
    case AH_F_CLOSE_STDIN:
        ah_reply_str(0, ah_get_u32(body), AH_ST_BADARG, "stdin of a control process is its request channel");
        break;
    case AH_F_CREDIT:
        break;
    default:
        protocol_error("frame type %u", type);
    }
}

/* f: |type|depth|pids|body|, len bytes (the length field already removed). */
static void route(const uint8_t *f, uint32_t len)
{
    if (len < 2)
        protocol_error("frame of %u bytes", len);
    uint8_t type = f[0], depth = f[1];
    size_t hdr = 2 + 4 * (size_t)depth;
    if (hdr > len)
        protocol_error("frame of %u bytes with depth %u", len, depth);
    const uint8_t *body = f + hdr;
    size_t blen = len - hdr;
    static const size_t min_body[] = {[AH_F_CALL] = 6, [AH_F_STDIN] = 4, [AH_F_CLOSE_STDIN] = 4, [AH_F_CREDIT] = 5};
    if (type < AH_F_CALL || type > AH_F_CREDIT)
        protocol_error("frame type %u", type);
    if (blen < min_body[type])
        protocol_error("frame type %u with a %zu-byte body", type, blen);
    if (depth == 0)
        return on_local(type, body, blen);
    struct ah_child *c = ah_child_find((pid_t)ah_get_u32(f + 2));
    if (c == NULL || c->exited)
        return no_such_process(type, body, blen, "no such process");
    if (depth == 1 && type != AH_F_CALL)
        return on_parent_op(c, type, body, blen);
    if (c->mode == AH_MODE_EXECED)
        return no_such_process(type, body, blen, "the process has exec'd");
    if (c->fd_in < 0)
        return no_such_process(type, body, blen, "the process's stdin is closed: it is shutting down");
    ah_child_forward(c, f, len);
}

static void on_stdin(void)
{
    if (ah_self.in_cut.left > 0) {
        ah_child_stdin_cut_continue();
        return;
    }
    struct ah_buf *in = &ah_self.in;
    /* After big stdin frames, read little at a frame boundary: the head, so
     * that the body can be spliced into the program's pipe. */
    bool probing = stdin_probe && ah_buf_len(in) == 0;
    size_t want = probing ? AH_PROBE_READ : AH_STDIN_CHUNK;
    uint8_t *dst = ah_buf_reserve(in, want);
    ssize_t n = AH_RETRY(read(STDIN_FILENO, dst, want));
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) {
        ah_loop_shutdown();
        return;
    }
    in->end += (size_t)n;
    while (ah_buf_len(in) >= 4) {
        uint32_t len = ah_get_u32(ah_buf_head(in));
        if (len > AH_MAX_FRAME)
            protocol_error("frame of %u bytes exceeds the limit", len);
        if (ah_buf_len(in) < 4 + (size_t)len)
            break;
        if (len >= AH_PROBE_AFTER && ah_buf_head(in)[4] == AH_F_STDIN)
            stdin_probe = true;
        route(ah_buf_head(in) + 4, len);
        ah_buf_consume(in, 4 + (size_t)len);
    }
    bool cut = ah_buf_len(in) >= 4 && ah_child_stdin_cut(ah_buf_head(in) + 4, ah_buf_len(in) - 4, ah_get_u32(ah_buf_head(in)));
    if (cut)
        ah_buf_consume(in, ah_buf_len(in)); /* the frame's start is in the program's pipe or queue */
    else if (probing)
        stdin_probe = false; /* no big stdin frame behind that head: read in bulk again */
}

static void on_ready(const struct ah_watch *w)
{
    struct ah_child *c = w->child;
    switch (w->what) { /* an fd closed earlier in this batch is -1: skip it */
    case AH_W_SIG:
        ah_sig_read();
        break;
    case AH_W_STDIN:
        if (!ah_self.shutting_down)
            on_stdin();
        break;
    case AH_W_CHILD_IN:
        if (c->fd_in >= 0)
            ah_child_on_stdin_writable(c);
        break;
    case AH_W_CHILD_OUT:
        if (c->fd_out >= 0)
            ah_child_on_stdout(c);
        break;
    case AH_W_CHILD_ERR:
        if (c->fd_err >= 0)
            ah_child_on_stderr(c);
        break;
    case AH_W_CHILD_CTL:
        if (c->fd_ctl >= 0)
            ah_child_on_ctl(c);
        break;
    default:
        ah_die(AH_EXIT_TEMP, "watch %d", (int)w->what);
    }
}

void ah_loop_shutdown(void)
{
    if (ah_self.shutting_down)
        return;
    ah_self.shutting_down = true;
    ah_self.deadline_ms = ah_now_ms() + ah_self.opt[AH_OPT_SHUTDOWN_GRACE_MS];
    ah_children_signal();
}

static bool all_exited(void)
{
    for (size_t i = 0; i < ah_self.nchildren; i++)
        if (!ah_self.children[i]->exited)
            return false;
    return true;
}

static _Noreturn void finish(void)
{
    ah_children_kill_all();
    ah_out_flush();
    _exit(AH_EXIT_OK);
}

void ah_loop_run(void)
{
    for (;;) {
        int timeout = -1;
        if (ah_self.shutting_down) {
            if (all_exited())
                finish();
            int64_t left = ah_self.deadline_ms - ah_now_ms();
            if (left <= 0)
                finish();
            timeout = (int)left;
        }
        if (epfd < 0 && (epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
            ah_die_errno("epoll_create1");
        sync_interest();
        struct epoll_event evs[64];
        int r = epoll_wait(epfd, evs, 64, timeout);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            ah_die_errno("epoll_wait");
        for (int i = 0; i < r; i++)
            on_ready(evs[i].data.ptr);
        ah_out_flush();
        ah_children_collect();
    }
}

void ah_loop_init_child(pid_t parent, int ctl_fd)
{
    /* The epoll instance is shared with the parent: drop it before anything
     * (a DEL on it would change the parent's interest set). */
    if (epfd >= 0)
        close(epfd);
    epfd = -1;
    w_sig.armed = w_stdin.armed = 0;
    ah_children_forget();
    ah_buf_clear(&ah_self.in);
    ah_self.in_cut = (struct ah_in_cut){0, 0, 0, false};
    stdin_probe = false;
    ah_buf_clear(&ah_self.out);
    ah_self.depth++;
    ah_self.parent = parent;
    ah_self.ctl_fd = ctl_fd;
    ah_self.out_broken = false;
    ah_self.splice_off = false; /* our fd 1 is now the pipe to our parent */
    ah_self.shutting_down = false;
    memcpy(ah_self.filter_self, ah_self.filter_children, sizeof(ah_self.filter_self));
    memset(ah_self.unwaited, 0, sizeof(ah_self.unwaited)); /* the parent's children are not ours */
    ah_self.nunwaited = 0;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        ah_die_errno("PR_SET_CHILD_SUBREAPER");
    ah_sig_init();
}
