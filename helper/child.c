/* child.c: a control process's children.
 *
 * Theory of operation. Each child has four pipes, all close-on-exec on our
 * side: stdin (we write), stdout and stderr (we read), and ctl (we read; the
 * child's end is close-on-exec). While the child runs the loop its stdout
 * carries frames, which we relay upward with its pid prepended. To exec, the
 * child writes an EXEC marker frame and then execs: from the marker on its
 * stdout is the program's, and the ctl pipe says how exec went (EOF: it
 * worked; four bytes: the errno). Output of a program is read only while
 * its stream has credit, which Python returns as it consumes; that is the
 * backpressure that bounds memory. stdin bytes are queued and written
 * without blocking, and acknowledged once they are in the pipe.
 *
 * Bulk data is not copied through us where the kernel can move it: a
 * program's output waiting in its pipe goes up by splice(2) (splice_raw),
 * the body of a big output frame from a loop child is passed on as it
 * comes (cut_through), and a big stdin frame goes into the program's pipe
 * as it comes in on fd 0 (ah_child_stdin_cut). Each promises upward or
 * downward only bytes already read or already in a pipe, so a peer dying
 * mid-frame can never leave a frame short.
 */
#define _GNU_SOURCE
#include "child.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "loop.h"
#include "sig.h"
#include "util.h"

extern char **environ;

#define AH_READ_CHUNK (256 * 1024)
#define AH_RUN_FRAMES 64         /* output frames of one stream relayed as one */
#define AH_RUN_BYTES (1u << 20)   /* ... up to this many bytes */
#define AH_PROBE_PATIENCE 16      /* head reads without a big frame before reading in bulk again */
#define AH_BIG_PIPE (1 << 20)           /* pipe size for a stream that proved busy */
#define AH_BUSY_STREAM (4u << 20)       /* bytes after which a stream counts as busy */
#define AH_DRAIN_MAX (4u << 20) /* bytes read from a dead child's pipe, ignoring credit */
#define AH_FRAME_SLACK 2048     /* room for pids prepended on the way up */

struct ah_child *ah_child_find(pid_t pid)
{
    struct ah_child *exited = NULL;
    for (size_t i = 0; i < ah_self.nchildren; i++) {
        struct ah_child *c = ah_self.children[i];
        if (c->pid == pid) {
            if (!c->exited)
                return c;
            exited = c;
        }
    }
    return exited;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Close one of a child's fds (index AH_IN...AH_CTL), leaving the loop's interest set first. */
static void close_watched(struct ah_child *c, int idx)
{
    int *fds[4] = {&c->fd_in, &c->fd_out, &c->fd_err, &c->fd_ctl};
    ah_loop_unwatch(*fds[idx], &c->watch[idx]);
    close_fd(fds[idx]);
}

/* The bytes waiting in the pipe fd (0 if it cannot tell). */
static size_t pipe_avail(int fd)
{
    int n = 0;
    return ioctl(fd, FIONREAD, &n) < 0 || n < 0 ? 0 : (size_t)n;
}

/* Our end of a fresh pipe: its only status flag is the access mode, which
 * F_SETFL leaves alone, so no F_GETFL is needed. -1: no such pipe. */
static void set_nonblock(int fd)
{
    if (fd >= 0 && fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
        ah_die_errno("fcntl O_NONBLOCK");
}

/* ---- creating children ------------------------------------------------ */

/* Track a new child (its parent-side fds, -1 for none); returns it. */
static struct ah_child *add_child(pid_t pid, int in, int out, int err, int ctl)
{
    struct ah_child *c = ah_xcalloc(1, sizeof(*c));
    c->pid = pid;
    c->fd_in = in;
    c->fd_out = out;
    c->fd_err = err;
    c->fd_ctl = ctl;
    c->mode = AH_MODE_LOOP;
    c->credit[0] = c->credit[1] = ah_self.opt[AH_OPT_FLOWCONTROL];
    c->signaloneof = ah_self.opt[AH_OPT_SIGNALONEOF];
    static const enum ah_what whats[4] = {AH_W_CHILD_IN, AH_W_CHILD_OUT, AH_W_CHILD_ERR, AH_W_CHILD_CTL};
    for (int i = 0; i < 4; i++)
        c->watch[i] = (struct ah_watch){c, whats[i], 0};
    set_nonblock(in);
    set_nonblock(out);
    set_nonblock(err);
    set_nonblock(ctl);
    if (ah_self.nchildren == ah_self.cap_children) {
        ah_self.cap_children = ah_self.cap_children ? ah_self.cap_children * 2 : 16;
        ah_self.children = ah_xrealloc(ah_self.children, ah_self.cap_children * sizeof(c));
    }
    ah_self.children[ah_self.nchildren++] = c;
    return c;
}

/* In a new child: its ends of the stdin, stdout and stderr pipes become 0-2. */
static int stdio_from(int p[4][2])
{
    return dup2(p[0][0], 0) < 0 || dup2(p[1][1], 1) < 0 || dup2(p[2][1], 2) < 0 ? -1 : 0;
}

static void child_side(pid_t parent, int p[4][2])
{
    /* p: [0] stdin, [1] stdout, [2] stderr, [3] ctl; all O_CLOEXEC.
     * In a new pid namespace the parent is invisible: getppid() is 0. */
    pid_t seen = getppid();
    if (seen != parent && seen != 0)
        _exit(AH_EXIT_TEMP); /* the parent died before we could run */
    if (stdio_from(p) < 0)
        _exit(AH_EXIT_TEMP);
    for (int i = 0; i < 3; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
    close(p[3][0]);
    ah_loop_init_child(seen, p[3][1]);
    ah_loop_run();
}

int64_t ah_clone_ns_flags(void)
{
    return CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
           CLONE_NEWTIME;
}

static pid_t do_fork(int use_clone, int64_t flags)
{
    if (!use_clone)
        return fork();
    /* A fork-like clone3: no new stack, the child continues here. clone3
     * has a separate exit signal field, so every flag bit is a flag:
     * the old clone reads CLONE_NEWTIME (0x80) as part of the exit signal. */
#ifdef SYS_clone3
    struct clone_args ca;
    memset(&ca, 0, sizeof(ca));
    ca.flags = (uint64_t)flags;
    ca.exit_signal = SIGCHLD;
    pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid >= 0 || errno != ENOSYS)
        return pid;
#endif
    if ((uint64_t)flags & 0xffu) { /* would be taken for the exit signal */
        errno = EINVAL;
        return -1;
    }
    return (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, 0UL);
}

/* The pipes of a new child: stdin, stdout, stderr and, if n is 4, ctl
 * (a program spawned by vfork needs none: its exec is known on return). */
static int make_pipes(int p[4][2], int n)
{
    if (ah_self.depth >= ah_self.opt[AH_OPT_MAXFORKDEPTH] || (int64_t)ah_self.nchildren >= ah_self.opt[AH_OPT_MAXCHILD]) {
        errno = EAGAIN;
        return -1;
    }
    p[3][0] = p[3][1] = -1;
    for (int i = 0; i < n; i++) {
        if (pipe2(p[i], O_CLOEXEC) < 0) {
            int e = errno;
            while (i-- > 0) {
                close(p[i][0]);
                close(p[i][1]);
            }
            errno = e;
            return -1;
        }
    }
    return 0;
}

static void close_pipes(int p[4][2])
{
    int e = errno;
    for (int n = 0; n < 4; n++) {
        if (p[n][0] >= 0)
            close(p[n][0]);
        if (p[n][1] >= 0)
            close(p[n][1]);
    }
    errno = e;
}

static struct ah_child *parent_side(int p[4][2], pid_t pid)
{
    close(p[0][0]);
    close(p[1][1]);
    close(p[2][1]);
    if (p[3][1] >= 0)
        close(p[3][1]);
    return add_child(pid, p[0][1], p[1][0], p[2][0], p[3][0]);
}

int ah_child_spawn(struct ah_call *c, int use_clone, int64_t flags)
{
    int p[4][2];
    pid_t parent = getpid();
    if (make_pipes(p, 4) < 0)
        return AH_ST_ERRNO;
    pid_t pid = do_fork(use_clone, flags);
    if (pid < 0) {
        close_pipes(p);
        return AH_ST_ERRNO;
    }
    if (pid == 0)
        child_side(parent, p);
    parent_side(p, pid);
    ah_mp_put_int(c->out, pid);
    return AH_ST_OK;
}

/* spawn runs in a clone(CLONE_VM | CLONE_VFORK) child on its own stack, as
 * posix_spawn does: no page tables are copied and we are suspended until it
 * execs or exits, so it can leave the exec errno in our memory and we can
 * answer the call at once. It touches no memory of ours but that errno. */
struct spawn_args {
    int (*p)[2];
    const char *file;
    char *const *argv;
    char *const *envp;
    pid_t parent;
    int err;
};

static char spawn_stack[256 * 1024] __attribute__((aligned(16)));

static int spawn_child(void *arg)
{
    struct spawn_args *a = arg;
    if (stdio_from(a->p) < 0) {
        a->err = errno;
        _exit(127);
    }
    ah_sig_before_exec(); /* dispositions are not shared: CLONE_SIGHAND is not set */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != a->parent) {
        a->err = ESRCH;
        _exit(127);
    }
    execvpe(a->file, a->argv, a->envp ? a->envp : environ);
    a->err = errno;
    _exit(127);
}

/* vfork a child that execs file with p's child ends as its stdio. Returns
 * its pid once it runs the program, or -1 with errno (the exec's). */
static pid_t vfork_exec(int p[4][2], const char *file, char *const argv[], char *const envp[])
{
    struct spawn_args a = {p, file, argv, envp, getpid(), 0};
    pid_t pid = clone(spawn_child, spawn_stack + sizeof(spawn_stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
    if (pid >= 0 && a.err != 0) {
        errno = a.err; /* the child exits 127; reaped as an unknown pid */
        return -1;
    }
    return pid;
}

int ah_child_spawn_exec(struct ah_call *c, const char *file, char *const argv[], char *const envp[])
{
    int p[4][2];
    if (make_pipes(p, 3) < 0)
        return AH_ST_ERRNO;
    pid_t pid = vfork_exec(p, file, argv, envp);
    if (pid < 0) {
        close_pipes(p);
        return AH_ST_ERRNO;
    }
    struct ah_child *ch = parent_side(p, pid);
    ch->mode = AH_MODE_EXECED;
    ch->ctl = AH_CTL_EOF;
    ah_mp_put_int(c->out, pid);
    return AH_ST_OK;
}

int ah_child_spawn_wait(struct ah_call *c, const char *file, char *const argv[], char *const envp[])
{
    if ((int64_t)ah_self.nchildren >= ah_self.opt[AH_OPT_MAXCHILD]) {
        errno = EAGAIN;
        return AH_ST_ERRNO;
    }
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0)
        return AH_ST_ERRNO;
    int p[4][2] = {{null, -1}, {-1, null}, {-1, null}, {-1, -1}}; /* the child's ends: 0, 1, 2 */
    pid_t pid = vfork_exec(p, file, argv, envp);
    int e = errno;
    close(null);
    if (pid < 0) {
        errno = e;
        return AH_ST_ERRNO;
    }
    struct ah_child *ch = add_child(pid, -1, -1, -1, -1);
    ch->mode = AH_MODE_EXECED;
    ch->ctl = AH_CTL_EOF;
    ch->answer_exit = true;
    ch->exec_reqid = c->reqid;
    return AH_NOREPLY;
}

/* ---- clone_exec: clone, set up, exec in one request ---------------------- */

static void report_and_exit(int ctl, const struct ah_setup_report *r)
{
    if (write(ctl, r, sizeof(*r)) < 0) {
        /* the parent sees EOF without a report: "died during setup" */
    }
    _exit(127);
}

static _Noreturn void setup_child(pid_t parent, int p[4][2], int go, int ready, const struct ah_steps *steps,
                                  const char *file, char *const argv[], char *const envp[])
{
    struct ah_setup_report r;
    uint8_t filter[sizeof(ah_self.filter_children)];
    char byte;
    memset(&r, 0, sizeof(r));
    memcpy(filter, ah_self.filter_children, sizeof(filter)); /* what a child of ours may call */
    pid_t seen = getppid();
    if ((seen != parent && seen != 0) || stdio_from(p) < 0)
        _exit(AH_EXIT_TEMP);
    for (int i = 0; i < 3; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
    close(p[3][0]);
    if (ready >= 0) { /* control processes are not dumpable, so their /proc files are root's: the
                       * parent (maybe not root) could not write our uid_map. Open up, say so. */
        (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        if (write(ready, "r", 1) < 0) {
            /* the parent then reads EOF, and its writes tell what went wrong */
        }
        close(ready);
    }
    while (AH_RETRY(read(go, &byte, 1)) > 0) {
        /* wait for the parent's writes (uid_map, cgroup.procs): EOF = go */
    }
    close(go);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* private again until exec (which sets it for the program) */
    if (ah_call_run_steps(steps, filter, &r) < 0)
        report_and_exit(p[3][1], &r);
    ah_sig_before_exec();
    r.step = (int32_t)steps->n;
    r.status = AH_ST_ERRNO;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || ((seen = getppid()) != parent && seen != 0)) {
        r.err = ESRCH;
        snprintf(r.msg, sizeof(r.msg), "parent died before exec");
        report_and_exit(p[3][1], &r);
    }
    execvpe(file, argv, envp != NULL ? envp : environ);
    r.err = errno;
    snprintf(r.msg, sizeof(r.msg), "exec %s", file);
    report_and_exit(p[3][1], &r);
    _exit(127);
}

/* Write data to path with "{pid}" in either replaced by pid. */
static int write_for(pid_t pid, const struct ah_bytes *path, const struct ah_bytes *data)
{
    char num[16], buf[4096], name[4096];
    const struct ah_bytes *src[2] = {path, data};
    char *dst[2] = {name, buf};
    size_t len[2];
    snprintf(num, sizeof(num), "%d", (int)pid);
    for (int k = 0; k < 2; k++) {
        size_t o = 0;
        for (size_t i = 0; i < src[k]->len; i++) {
            const char *from = (const char *)src[k]->p + i;
            if (src[k]->len - i >= 5 && memcmp(from, "{pid}", 5) == 0) {
                size_t n = strlen(num);
                if (o + n >= sizeof(buf))
                    return errno = ENAMETOOLONG, -1;
                memcpy(dst[k] + o, num, n);
                o += n;
                i += 4;
            } else {
                if (o + 1 >= sizeof(buf))
                    return errno = ENAMETOOLONG, -1;
                dst[k][o++] = *from;
            }
        }
        dst[k][o] = 0;
        len[k] = o;
    }
    int fd = open(name, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = AH_RETRY(write(fd, buf, len[1]));
    int e = errno;
    close(fd);
    if (n != (ssize_t)len[1])
        return errno = n < 0 ? e : EIO, -1;
    return 0;
}

static void reply_setup_failed(uint32_t reqid, const struct ah_setup_report *r)
{
    struct ah_buf v = {0};
    ah_mp_put_array(&v, 4);
    ah_mp_put_int(&v, r->step);
    ah_mp_put_int(&v, r->status);
    ah_mp_put_int(&v, r->err);
    ah_mp_put_cstr(&v, r->msg);
    ah_reply_raw(0, reqid, AH_ST_SETUP_FAILED, ah_buf_head(&v), ah_buf_len(&v));
    ah_buf_free(&v);
}

int ah_child_clone_exec(struct ah_call *c, int64_t flags, const struct ah_writes *writes, const struct ah_steps *steps,
                        const char *file, char *const argv[], char *const envp[])
{
    int p[4][2], go[2], ready[2] = {-1, -1};
    pid_t parent = getpid();
    if (make_pipes(p, 4) < 0)
        return AH_ST_ERRNO;
    if (pipe2(go, O_CLOEXEC) < 0) {
        close_pipes(p);
        return AH_ST_ERRNO;
    }
    if (writes->n > 0 && pipe2(ready, O_CLOEXEC) < 0) {
        int e = errno;
        close(go[0]);
        close(go[1]);
        close_pipes(p);
        errno = e;
        return AH_ST_ERRNO;
    }
    pid_t pid = do_fork(1, flags);
    if (pid == 0) {
        close(go[1]);
        if (ready[0] >= 0)
            close(ready[0]);
        setup_child(parent, p, go[0], ready[1], steps, file, argv, envp);
    }
    close(go[0]);
    if (ready[0] >= 0) { /* the writes wait until the child can be written to */
        char byte;
        close(ready[1]);
        if (pid > 0)
            (void)AH_RETRY(read(ready[0], &byte, 1));
        close(ready[0]);
    }
    for (uint32_t i = 0; pid > 0 && i < writes->n; i++) {
        if (write_for(pid, &writes->path[i], &writes->data[i]) == 0)
            continue;
        struct ah_setup_report r = {-1 - (int32_t)i, AH_ST_ERRNO, errno, ""};
        snprintf(r.msg, sizeof(r.msg), "write %.*s", (int)(writes->path[i].len > 100 ? 100 : writes->path[i].len),
                 (const char *)writes->path[i].p);
        kill(pid, SIGKILL); /* it waits for go: nothing of it ran */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        close(go[1]);
        close_pipes(p);
        reply_setup_failed(c->reqid, &r);
        return AH_NOREPLY;
    }
    close(go[1]);
    if (pid < 0) {
        close_pipes(p);
        return AH_ST_ERRNO;
    }
    struct ah_child *ch = parent_side(p, pid);
    ch->mode = AH_MODE_EXEC_PENDING;
    ch->setup = true;
    ch->exec_reqid = c->reqid;
    return AH_NOREPLY;
}

/* A clone_exec child that will not exec: answer, reap it, and drop it
 * without events: the caller never learned its pid. */
static void setup_failed(struct ah_child *c)
{
    reply_setup_failed(c->exec_reqid, &c->report);
    if (!c->exited) {
        kill(c->pid, SIGKILL);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        c->exited = true;
    }
    c->exit_waited = true;
    c->mode = AH_MODE_EXECED;
    for (int i = 0; i < 4; i++)
        close_watched(c, i);
}

/* In a freshly forked child: close the parent's pipes to its other children,
 * but do not free the table. Freeing would write to every page holding it,
 * turning memory shared copy-on-write with the parent into private copies:
 * with many siblings that is most of a control process's footprint. The
 * table is only read here, and stays shared until the parent frees it. */
void ah_children_forget(void)
{
    for (size_t i = 0; i < ah_self.nchildren; i++) {
        const struct ah_child *c = ah_self.children[i];
        const int fds[4] = {c->fd_in, c->fd_out, c->fd_err, c->fd_ctl};
        for (int k = 0; k < 4; k++)
            if (fds[k] >= 0)
                close(fds[k]);
    }
    ah_self.children = NULL;
    ah_self.nchildren = ah_self.cap_children = 0;
}

/* ---- downward: frames, stdin, credit ----------------------------------- */

static void fail_acks(struct ah_child *c, int err)
{
    for (size_t i = 0; i < c->nacks; i++) {
        if (c->acks[i].close)
            ah_reply_ok(c->pid, c->acks[i].reqid);
        else
            ah_reply_errno(c->pid, c->acks[i].reqid, err);
    }
    c->nacks = 0;
}

static void close_stdin(struct ah_child *c, int err)
{
    if (c->fd_in < 0)
        return;
    close_watched(c, AH_IN);
    ah_buf_clear(&c->in_q);
    fail_acks(c, err);
    if (ah_self.opt[AH_OPT_STDIN_CLOSED])
        ah_emit_event(c->pid, AH_EV_STDIN_CLOSED, 0, NULL);
}

static void ack_written(struct ah_child *c)
{
    size_t done = 0;
    uint64_t written = c->in_queued - ah_buf_len(&c->in_q); /* everything queued and not pending */
    while (done < c->nacks && c->acks[done].upto <= written) {
        if (c->acks[done].close) {
            struct ah_ack a = c->acks[done];
            c->nacks -= done + 1;
            memmove(c->acks, c->acks + done + 1, c->nacks * sizeof(*c->acks));
            close_stdin(c, EPIPE);
            ah_reply_ok(c->pid, a.reqid);
            return;
        }
        ah_reply_ok(c->pid, c->acks[done].reqid);
        done++;
    }
    if (done == 0)
        return; /* nothing to drop, and acks may still be NULL: memmove(NULL, ...) is UB */
    c->nacks -= done;
    memmove(c->acks, c->acks + done, c->nacks * sizeof(*c->acks));
}

void ah_child_on_stdin_writable(struct ah_child *c)
{
    while (c->fd_in >= 0 && ah_buf_len(&c->in_q) > 0 && c->mode != AH_MODE_EXEC_PENDING) {
        ssize_t n = write(c->fd_in, ah_buf_head(&c->in_q), ah_buf_len(&c->in_q));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            close_stdin(c, errno);
            return;
        }
        ah_buf_consume(&c->in_q, (size_t)n);
    }
    if (c->fd_in >= 0)
        ack_written(c);
}

static void push_ack(struct ah_child *c, uint32_t reqid, bool close)
{
    if (c->nacks == c->cap_acks) {
        c->cap_acks = c->cap_acks ? c->cap_acks * 2 : 8;
        c->acks = ah_xrealloc(c->acks, c->cap_acks * sizeof(*c->acks));
    }
    c->acks[c->nacks++] = (struct ah_ack){reqid, c->in_queued, close};
}

void ah_child_forward(struct ah_child *c, const uint8_t *f, uint32_t len)
{
    /* f: |type|depth|pid0|pids...|body|, len bytes; drop pid0 on the way down */
    struct ah_buf *q = &c->in_q;
    ah_buf_put_u32(q, len - 4);
    ah_buf_put_u8(q, f[0]);
    ah_buf_put_u8(q, (uint8_t)(f[1] - 1));
    ah_buf_append(q, f + 6, len - 6);
    c->in_queued += len;
    ah_child_on_stdin_writable(c);
}

static void note_stdin(struct ah_child *c, size_t n)
{
    if (c->in_queued < AH_BUSY_STREAM && c->in_queued + n >= AH_BUSY_STREAM)
        (void)fcntl(c->fd_in, F_SETPIPE_SZ, AH_BIG_PIPE); /* a busy stdin: see note_stdout */
    c->in_queued += n;
}

/* Put len bytes into c's stdin: written at once as far as the pipe takes
 * them (no copy), the rest queued. False if the pipe broke: then the
 * request was answered with the error. */
static bool put_stdin(struct ah_child *c, uint32_t reqid, const uint8_t *data, size_t len)
{
    size_t done = 0;
    if (ah_buf_len(&c->in_q) == 0 && len > 0) {
        ssize_t n = AH_RETRY(write(c->fd_in, data, len));
        if (n < 0 && errno != EAGAIN) {
            ah_reply_errno(c->pid, reqid, errno);
            close_stdin(c, errno);
            return false;
        }
        done = n > 0 ? (size_t)n : 0;
    }
    ah_buf_append(&c->in_q, data + done, len - done);
    note_stdin(c, len);
    return true;
}

void ah_child_stdin(struct ah_child *c, uint32_t reqid, const uint8_t *data, size_t len)
{
    if (c->mode != AH_MODE_EXECED) {
        ah_reply_str(c->pid, reqid, AH_ST_BADARG, "the process runs its control loop: exec a program before writing to its stdin");
        return;
    }
    if (c->fd_in < 0) {
        ah_reply_errno(c->pid, reqid, EPIPE);
        return;
    }
    if (!put_stdin(c, reqid, data, len))
        return;
    push_ack(c, reqid, false);
    ah_child_on_stdin_writable(c);
}

/* ---- stdin cut-through ---------------------------------------------------
 * A big stdin frame for one of our programs goes into its pipe as it comes
 * in on fd 0, rather than being gathered whole and then written: spliced
 * from pipe to pipe while nothing is queued for the program, else read
 * straight into its queue. No other frame is read meanwhile (they follow
 * it on fd 0); the request is acknowledged once its last byte is in the
 * program's pipe, as for a frame taken whole. */

bool ah_child_stdin_cut(const uint8_t *f, size_t have, uint32_t len)
{
    /* f: |type|depth 1|pid|reqid|data|, `have` of its len bytes read */
    if (have < 10 || f[0] != AH_F_STDIN || f[1] != 1 || len - have < AH_SPLICE_MIN)
        return false;
    struct ah_child *c = ah_child_find((pid_t)ah_get_u32(f + 2));
    if (c == NULL || c->exited || c->mode != AH_MODE_EXECED || c->fd_in < 0 || ah_buf_len(&c->in_q) > 0)
        return false; /* not a program's open stdin, or bytes queued first: the frame is taken whole */
    uint32_t reqid = ah_get_u32(f + 6);
    ah_self.in_cut.pid = c->pid;
    ah_self.in_cut.reqid = reqid;
    ah_self.in_cut.left = len - have;
    ah_self.in_cut.answered = !put_stdin(c, reqid, f + 10, have - 10);
    return true;
}

/* The program the cut frame is for, while its stdin takes bytes. */
static struct ah_child *cut_target(void)
{
    struct ah_in_cut *k = &ah_self.in_cut;
    if (k->answered)
        return NULL;
    struct ah_child *c = ah_child_find(k->pid);
    if (c != NULL && c->fd_in >= 0 && !c->exited)
        return c;
    ah_reply_errno(k->pid, k->reqid, EPIPE); /* its stdin closed under the frame */
    k->answered = true;
    return NULL;
}

void ah_child_stdin_cut_continue(void)
{
    struct ah_in_cut *k = &ah_self.in_cut;
    size_t avail = pipe_avail(STDIN_FILENO);
    if (avail == 0)
        avail = 1; /* readable and empty: EOF, unless a byte just came; a read tells */
    size_t n = avail < k->left ? avail : k->left;
    struct ah_child *c = cut_target();
    if (c != NULL && ah_buf_len(&c->in_q) == 0) {
        ssize_t m = splice(STDIN_FILENO, NULL, c->fd_in, NULL, n, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (m > 0) {
            note_stdin(c, (size_t)m);
            k->left -= (size_t)m;
            n -= (size_t)m;
        } else if (m < 0 && errno == EPIPE) {
            ah_reply_errno(c->pid, k->reqid, EPIPE);
            close_stdin(c, EPIPE);
            k->answered = true;
            c = NULL;
        } /* else the pipe is full (EAGAIN) or takes no splice: read the bytes */
    }
    if (n > 0) {
        uint8_t scratch[16384];
        if (c == NULL && n > sizeof(scratch))
            n = sizeof(scratch);
        uint8_t *dst = c != NULL ? ah_buf_reserve(&c->in_q, n) : scratch;
        ssize_t r = AH_RETRY(read(STDIN_FILENO, dst, n));
        if (r < 0 && errno == EAGAIN)
            return;
        if (r <= 0) {
            ah_loop_shutdown(); /* our parent is gone mid-frame */
            return;
        }
        if (c != NULL) {
            c->in_q.end += (size_t)r;
            note_stdin(c, (size_t)r);
        }
        k->left -= (size_t)r;
    }
    if (k->left == 0) { /* the frame is all in: acknowledged, unless it failed */
        if ((c = cut_target()) != NULL)
            push_ack(c, k->reqid, false);
        *k = (struct ah_in_cut){0, 0, 0, false};
    }
    if (c != NULL)
        ah_child_on_stdin_writable(c);
}

void ah_child_close_stdin(struct ah_child *c, uint32_t reqid)
{
    if (c->fd_in < 0) {
        ah_reply_ok(c->pid, reqid);
        return;
    }
    push_ack(c, reqid, true);
    if (c->mode == AH_MODE_LOOP)
        ah_buf_clear(&c->in_q); /* a control process: EOF means "shut down" */
    ah_child_on_stdin_writable(c);
}

void ah_child_credit(struct ah_child *c, int stream, uint32_t amount)
{
    int64_t *cr = &c->credit[stream ? 1 : 0];
    if (*cr >= 0 && *cr < INT64_MAX - amount)
        *cr += amount;
}

/* ---- upward: output, frames, exec ------------------------------------- */

static void stream_closed(struct ah_child *c, int stream)
{
    uint8_t type = stream ? AH_F_STDERR : AH_F_STDOUT;
    close_watched(c, stream ? AH_ERR : AH_OUT);
    ah_emit_output(c->pid, type, NULL, 0); /* empty output = end of stream */
    if (ah_self.opt[stream ? AH_OPT_STDERR_CLOSED : AH_OPT_STDOUT_CLOSED])
        ah_emit_event(c->pid, stream ? AH_EV_STDERR_CLOSED : AH_EV_STDOUT_CLOSED, 0, NULL);
}

static void take_credit(struct ah_child *c, int stream, size_t n)
{
    int64_t *cr = &c->credit[stream];
    if (*cr >= 0)
        *cr = *cr > (int64_t)n ? *cr - (int64_t)n : 0;
}

/* A child that streams a lot gets a bigger stdout pipe: fewer wake-ups per
 * byte. Done lazily and best effort (pipe pages are accounted per user). */
static void note_stdout(struct ah_child *c, size_t n)
{
    uint64_t before = c->out_bytes;
    c->out_bytes += n;
    if (before < AH_BUSY_STREAM && c->out_bytes >= AH_BUSY_STREAM && c->fd_out >= 0)
        (void)fcntl(c->fd_out, F_SETPIPE_SZ, AH_BIG_PIPE);
}

/* The 10-byte head of a frame sent up about our child c: |len|type|depth|
 * c's pid|, followed by depth - 1 pids (a relayed frame's own) and the body. */
static void frame_head(uint8_t head[10], size_t len, uint8_t type, uint8_t depth, const struct ah_child *c)
{
    ah_set_u32(head, (uint32_t)len);
    head[4] = type;
    head[5] = depth;
    ah_set_u32(head + 6, (uint32_t)c->pid);
}

/* Move what a program has written, if it is a lot, from its pipe straight
 * to our stdout as one frame (splice: no copy through our memory). Returns
 * the bytes moved, or 0 when there is too little to be worth it. */
static ssize_t splice_raw(struct ah_child *c, int stream, int fd, size_t max)
{
    size_t avail = ah_self.splice_off ? 0 : pipe_avail(fd);
    if (avail < AH_SPLICE_MIN)
        return 0;
    size_t n = avail < max ? avail : max;
    uint8_t head[10];
    frame_head(head, n + 6, stream ? AH_F_STDERR : AH_F_STDOUT, 1, c);
    struct iovec iov = {head, sizeof(head)};
    ah_out_splice(&iov, 1, fd, n);
    take_credit(c, stream, n);
    if (stream == 0)
        note_stdout(c, n);
    return (ssize_t)n;
}

/* Read one chunk of raw output straight into an output frame. Returns the
 * bytes read, 0 at EOF (stream closed) or -1 when nothing is ready. */
static ssize_t read_raw(struct ah_child *c, int stream, bool ignore_credit)
{
    int fd = stream ? c->fd_err : c->fd_out;
    size_t most = AH_BIG_PIPE; /* a splice may take a whole big pipe, within the credit */
    if (!ignore_credit && c->credit[stream] >= 0 && (uint64_t)c->credit[stream] < most)
        most = (size_t)c->credit[stream];
    size_t want = most < AH_READ_CHUNK ? most : AH_READ_CHUNK; /* a read, one chunk */
    if (fd < 0 || want == 0)
        return -1;
    ssize_t moved = splice_raw(c, stream, fd, most);
    if (moved > 0)
        return moved;
    size_t mark = ah_frame_begin(stream ? AH_F_STDERR : AH_F_STDOUT, c->pid);
    uint8_t *dst = ah_buf_reserve(&ah_self.out, want);
    ssize_t n = AH_RETRY(read(fd, dst, want));
    if (n > 0) {
        ah_self.out.end += (size_t)n;
        ah_frame_end(mark);
        take_credit(c, stream, (size_t)n);
        if (stream == 0)
            note_stdout(c, (size_t)n);
        return n;
    }
    ah_self.out.end = ah_self.out.start + mark; /* drop the unused header */
    if (n < 0 && errno == EAGAIN)
        return -1;
    stream_closed(c, stream);
    return 0;
}

static void bad_child(struct ah_child *c, const char *why)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "child %d sent a malformed frame (%s): killed", (int)c->pid, why);
    if (write(STDERR_FILENO, msg, strlen(msg)) < 0) {
        /* best effort */
    }
    kill(c->pid, SIGKILL);
    ah_buf_clear(&c->out_rd);
    stream_closed(c, 0);
}

static void apply_ctl(struct ah_child *c);

/* The body (after the pids) of the complete frame at p, if it is output of
 * the same stream and pipeline as the frame f (type, depth and pids as
 * read), so that the two can be sent on as one frame; else NULL. */
static const uint8_t *same_stream(const uint8_t *f, const uint8_t *p, const uint8_t *end, size_t *body_len)
{
    size_t pids = 4 * (size_t)f[1];
    if (end - p < 6)
        return NULL;
    uint32_t len = ah_get_u32(p);
    if (len <= 2 + pids || (size_t)(end - p) - 4 < len || p[4] != f[0] || p[5] != f[1] || memcmp(p + 6, f + 2, pids) != 0)
        return NULL; /* not a whole frame of the same stream, or empty: the end of the stream */
    *body_len = len - 2 - pids;
    return p + 6 + pids;
}

/* Relay every complete frame in out_rd; stop at an EXEC marker. A run of
 * output frames of one stream goes up as one frame (up to AH_RUN_BYTES,
 * written from out_rd without a copy): a program that writes in small
 * pieces then costs the hops above and Python one frame per read, not one
 * per write. */
static void relay_frames(struct ah_child *c)
{
    struct ah_buf *rd = &c->out_rd;
    while (c->mode == AH_MODE_LOOP && ah_buf_len(rd) >= 4) {
        const uint8_t *h = ah_buf_head(rd);
        uint32_t len = ah_get_u32(h);
        if (len < 2 || len > AH_MAX_FRAME + AH_FRAME_SLACK)
            return bad_child(c, "length");
        if (ah_buf_len(rd) < 4 + (size_t)len)
            return;
        const uint8_t *f = h + 4;
        if (f[1] == 255 || 2 + 4 * (size_t)f[1] > len)
            return bad_child(c, "depth");
        if (f[0] == AH_F_EXEC) {
            if (f[1] != 0 || len != 6)
                return bad_child(c, "exec marker");
            c->mode = AH_MODE_EXEC_PENDING;
            c->exec_reqid = ah_get_u32(f + 2);
            ah_buf_consume(rd, 4 + (size_t)len);
            apply_ctl(c);
            return;
        }
        if (len >= AH_PROBE_AFTER)
            c->probe = AH_PROBE_PATIENCE; /* big frames come: the next may be spliced */
        uint8_t head[10]; /* |len|type|depth+1|our child's pid|, then the frame's pids and bodies */
        struct iovec iov[AH_RUN_FRAMES + 1];
        iov[0] = (struct iovec){head, sizeof(head)};
        iov[1] = (struct iovec){(void *)(f + 2), len - 2};
        int cnt = 2;
        size_t total = len - 2, used = 4 + (size_t)len, body_len = 0;
        const uint8_t *body, *end = ah_buf_head(rd) + ah_buf_len(rd);
        bool data = (f[0] == AH_F_STDOUT || f[0] == AH_F_STDERR) && len > 2 + 4 * (size_t)f[1];
        while (data && cnt <= AH_RUN_FRAMES &&
               (body = same_stream(f, h + used, end, &body_len)) != NULL && total + body_len <= AH_RUN_BYTES) {
            iov[cnt++] = (struct iovec){(void *)body, body_len};
            total += body_len;
            used += 4 + (size_t)ah_get_u32(h + used);
        }
        frame_head(head, total + 6, f[0], (uint8_t)(f[1] + 1), c);
        ah_out_relay(iov, cnt);
        ah_buf_consume(rd, used);
    }
}

/* Cut-through. Once out_rd ends in the whole head of a big output frame,
 * the frame is sent on in pieces as its body comes: first what was read
 * with the head together with what the pipe holds, then, each time the
 * child's pipe is readable, what is in it, spliced from pipe to pipe and
 * never copied through us. Each piece
 * goes up as a frame of its own (same stream, same pipeline), and only
 * bytes already read or already in the pipe are promised upward, so a child
 * dying mid-frame leaves no frame short. Meanwhile c->cont_left counts the
 * body still to come and out_rd holds just the frame's head. */

/* Send a piece: pre (bytes read) and then n bytes spliced from the pipe. */
static void send_piece(struct ah_child *c, const uint8_t *pre, size_t pre_len, size_t n)
{
    const uint8_t *f = ah_buf_head(&c->out_rd) + 4;
    size_t pids = 4 * (size_t)f[1];
    uint8_t head[10];
    frame_head(head, 6 + pids + pre_len + n, f[0], (uint8_t)(f[1] + 1), c);
    struct iovec iov[3] = {{head, sizeof(head)}, {(void *)(f + 2), pids}, {(void *)pre, pre_len}};
    ah_out_splice(iov, pre_len ? 3 : 2, c->fd_out, n);
}

/* Send on, as one piece, pre (bytes read) and what the pipe holds of the
 * frame being cut through. Returns the body bytes sent. */
static size_t send_on(struct ah_child *c, const uint8_t *pre, size_t pre_len)
{
    size_t avail = pipe_avail(c->fd_out);
    size_t n = avail < c->cont_left ? avail : c->cont_left;
    if (pre_len + n == 0)
        return 0;
    send_piece(c, pre, pre_len, n);
    c->cont_left -= n;
    note_stdout(c, n);
    if (c->cont_left == 0)
        ah_buf_clear(&c->out_rd);
    return pre_len + n;
}

/* Start cutting through the frame at the end of out_rd, if it is big output
 * whose head is complete. Returns the body bytes sent on now. */
static size_t cut_through(struct ah_child *c)
{
    struct ah_buf *rd = &c->out_rd;
    if (c->mode != AH_MODE_LOOP || c->fd_out < 0 || ah_self.splice_off || ah_buf_len(rd) < 6)
        return 0;
    const uint8_t *h = ah_buf_head(rd);
    const uint8_t *f = h + 4;
    uint32_t len = ah_get_u32(h);
    size_t have = ah_buf_len(rd) - 4, hl = 2 + 4 * (size_t)f[1]; /* of the frame's len bytes; its head */
    if ((f[0] != AH_F_STDOUT && f[0] != AH_F_STDERR) || len > AH_MAX_FRAME + AH_FRAME_SLACK || f[1] == 255 ||
        hl > len || have < hl || have >= len || len - have < AH_SPLICE_MIN)
        return 0; /* not output, malformed (relay_frames judges it), head incomplete, whole, or small */
    c->cont_left = len - have;
    /* the first piece: the body read with the head and what the pipe holds
     * (as two pieces, the first would be small, and the hop above would
     * read it whole rather than splice it) */
    size_t sent = send_on(c, f + hl, have - hl);
    if (c->cont_left > 0)
        rd->end = rd->start + 4 + hl; /* keep the head: it names every piece */
    return sent;
}

/* Read frames from a loop child's stdout. Returns bytes read, 0 at EOF, -1 if none. */
static ssize_t read_frames(struct ah_child *c)
{
    uint8_t one;
    ssize_t n;
    if (c->cont_left > 0) { /* in the middle of a frame being cut through */
        size_t moved = send_on(c, NULL, 0); /* what the pipe holds of the frame */
        if (moved > 0)
            return (ssize_t)moved;
        n = AH_RETRY(read(c->fd_out, &one, 1)); /* readable but empty: EOF, or a byte just came */
        if (n > 0) {
            c->cont_left--; /* the byte is of the body still to come */
            return (ssize_t)send_on(c, &one, 1);
        }
    } else {
        /* After big output frames, read little at a frame boundary: the
         * head, so that the body can be spliced rather than read. */
        bool probing = c->probe > 0 && ah_buf_len(&c->out_rd) == 0;
        size_t want = probing ? AH_PROBE_READ : AH_READ_CHUNK;
        uint8_t *dst = ah_buf_reserve(&c->out_rd, want);
        n = AH_RETRY(read(c->fd_out, dst, want));
        if (n > 0) {
            c->out_rd.end += (size_t)n;
            note_stdout(c, (size_t)n);
            relay_frames(c);
            size_t cut = cut_through(c);
            if (probing && cut == 0 && c->cont_left == 0)
                c->probe--; /* no big frame behind that head: after a few, read in bulk again */
            return n + (ssize_t)cut;
        }
    }
    if (n < 0 && errno == EAGAIN)
        return -1;
    ah_buf_clear(&c->out_rd); /* a partial frame from a dead child is dropped */
    c->cont_left = 0;
    stream_closed(c, 0);
    return 0;
}

static void apply_ctl(struct ah_child *c)
{
    if (c->mode != AH_MODE_EXEC_PENDING || c->ctl == AH_CTL_OPEN)
        return;
    if (c->setup && c->ctl == AH_CTL_ERRNO) {
        setup_failed(c);
        return;
    }
    if (c->setup) { /* exec'd: answer with its pid, from the parent */
        c->mode = AH_MODE_EXECED;
        ah_reply_int(0, c->exec_reqid, c->pid);
        return;
    }
    if (c->ctl == AH_CTL_ERRNO) { /* exec failed: the child is back in its loop */
        c->ctl = AH_CTL_OPEN;
        c->mode = AH_MODE_LOOP;
        ah_reply_errno(c->pid, c->exec_reqid, c->ctl_errno);
        relay_frames(c);
        ah_child_on_stdin_writable(c);
        return;
    }
    c->mode = AH_MODE_EXECED;
    ah_reply_ok(c->pid, c->exec_reqid);
    if (ah_buf_len(&c->out_rd) > 0) { /* the program's first bytes, read with the marker */
        ah_emit_output(c->pid, AH_F_STDOUT, ah_buf_head(&c->out_rd), ah_buf_len(&c->out_rd));
        take_credit(c, 0, ah_buf_len(&c->out_rd));
    }
    ah_buf_free(&c->out_rd);
    ah_buf_clear(&c->in_q);
}

void ah_child_on_ctl(struct ah_child *c)
{
    struct ah_setup_report r;
    ssize_t n = AH_RETRY(read(c->fd_ctl, &r, c->setup ? sizeof(r) : sizeof(int32_t)));
    if (n < 0 && errno == EAGAIN)
        return;
    if (c->setup && n == (ssize_t)sizeof(r)) {
        c->ctl = AH_CTL_ERRNO;
        c->report = r;
        c->report.msg[sizeof(r.msg) - 1] = 0;
    } else if (!c->setup && n == (ssize_t)sizeof(int32_t)) {
        c->ctl = AH_CTL_ERRNO;
        memcpy(&c->ctl_errno, &r, sizeof(int32_t));
    } else {
        c->ctl = AH_CTL_EOF;
        close_watched(c, AH_CTL);
    }
    apply_ctl(c);
}

void ah_child_on_stdout(struct ah_child *c)
{
    if (c->mode == AH_MODE_LOOP)
        read_frames(c);
    else if (c->mode == AH_MODE_EXECED)
        read_raw(c, 0, false);
}

void ah_child_on_stderr(struct ah_child *c) { read_raw(c, 1, false); }

/* Read what a dead child left in a pipe, bounded: a program's own children
 * may keep the pipe open and writing. */
static void drain(struct ah_child *c, int stream)
{
    size_t total = 0;
    while (total < AH_DRAIN_MAX && (stream ? c->fd_err : c->fd_out) >= 0) {
        ssize_t n = (stream == 0 && c->mode == AH_MODE_LOOP) ? read_frames(c) : read_raw(c, stream, true);
        if (n <= 0)
            return;
        total += (size_t)n;
    }
}

void ah_child_on_exit(struct ah_child *c, int status)
{
    c->exited = true;
    c->status = status;
    if (c->answer_exit) { /* spawn_wait: the status is the answer, and all there is to say */
        ah_reply_int(0, c->exec_reqid, WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status));
        c->exit_waited = true; /* not for waitpid either */
        return;
    }
    while (c->fd_ctl >= 0 && c->ctl == AH_CTL_OPEN)
        ah_child_on_ctl(c); /* the process is gone: this ends in EOF */
    if (c->setup && c->exit_waited)
        return; /* its clone_exec failed and was answered: the caller never learned its pid */
    if (c->setup && c->mode == AH_MODE_EXEC_PENDING) { /* died during setup, e.g. killed by a seccomp step */
        c->report = (struct ah_setup_report){-1, AH_ST_ERRNO, ECHILD, ""};
        snprintf(c->report.msg, sizeof(c->report.msg), "died during setup (wait status %d)", status);
        c->ctl = AH_CTL_ERRNO;
    }
    if (c->setup && c->ctl == AH_CTL_ERRNO && c->mode == AH_MODE_EXEC_PENDING) {
        setup_failed(c);
        return;
    }
    drain(c, 0);
    if (c->mode == AH_MODE_EXEC_PENDING) { /* died right at exec: no ctl answer will come */
        c->ctl = AH_CTL_EOF;
        apply_ctl(c);
        drain(c, 0);
    }
    drain(c, 1);
    close_stdin(c, EPIPE);
    if (WIFEXITED(status) && ah_self.opt[AH_OPT_EXIT_STATUS]) {
        int64_t v = WEXITSTATUS(status);
        ah_emit_event(c->pid, AH_EV_EXIT_STATUS, 1, &v);
    } else if (WIFSIGNALED(status) && ah_self.opt[AH_OPT_TERMSIG]) {
        int64_t v = WTERMSIG(status);
        ah_emit_event(c->pid, AH_EV_TERMSIG, 1, &v);
    }
    ah_emit_gone(c->pid, status);
}

void ah_children_collect(void)
{
    size_t j = 0;
    for (size_t i = 0; i < ah_self.nchildren; i++) {
        struct ah_child *c = ah_self.children[i];
        if (c->exited && c->fd_out < 0 && c->fd_err < 0) {
            if (!c->exit_waited) { /* waitpid can still ask for it */
                size_t slot = ah_self.nunwaited++ % (sizeof(ah_self.unwaited) / sizeof(ah_self.unwaited[0]));
                ah_self.unwaited[slot].pid = c->pid;
                ah_self.unwaited[slot].status = c->status;
            }
            close_watched(c, AH_CTL);
            close_watched(c, AH_IN);
            ah_buf_free(&c->in_q);
            ah_buf_free(&c->out_rd);
            free(c->acks);
            free(c);
        } else {
            ah_self.children[j++] = c;
        }
    }
    ah_self.nchildren = j;
}

/* ---- shutdown ------------------------------------------------------------ */

void ah_children_signal(void)
{
    for (size_t i = 0; i < ah_self.nchildren; i++) {
        struct ah_child *c = ah_self.children[i];
        if (c->exited)
            continue;
        if (c->mode == AH_MODE_EXECED && c->signaloneof > 0)
            kill(c->pid, (int)c->signaloneof);
        if (c->mode != AH_MODE_EXECED)
            close_watched(c, AH_IN); /* a control child shuts its own subtree down */
    }
}

/* Kill every child listed by the kernel (ours, and orphans re-parented to us
 * as a subreaper). Returns how many were signalled, or -1 if unlisted. */
static int kill_listed(void)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = AH_RETRY(read(fd, buf, sizeof(buf) - 1));
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    int count = 0;
    for (char *p = buf, *end; *p; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
            count++;
    }
    return count;
}

void ah_children_kill_all(void)
{
    int64_t give_up = ah_now_ms() + 5000;
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    for (;;) {
        for (size_t i = 0; i < ah_self.nchildren; i++)
            if (!ah_self.children[i]->exited)
                kill(ah_self.children[i]->pid, SIGKILL);
        int listed = kill_listed();
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            struct ah_child *c = ah_child_find(pid);
            if (c != NULL && !c->exited)
                ah_child_on_exit(c, status);
        }
        if (pid < 0 && errno == ECHILD)
            return;
        if (ah_now_ms() > give_up && listed <= 0)
            return; /* unlisted orphans go to our own subreaper, which sweeps them */
        struct timespec ts = {0, 10 * 1000 * 1000};
        sigtimedwait(&chld, NULL, &ts);
    }
}
