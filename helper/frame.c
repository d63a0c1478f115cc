/* frame.c: upward frames and the blocking flush of fd 1. */
#define _GNU_SOURCE
#include "frame.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "loop.h"
#include "msg.h"
#include "proc.h"
#include "util.h"

size_t ah_frame_begin(uint8_t type, pid_t pid)
{
    struct ah_buf *out = &ah_self.out;
    size_t mark = ah_buf_len(out);
    ah_buf_put_u32(out, 0);
    ah_buf_put_u8(out, type);
    ah_buf_put_u8(out, pid ? 1 : 0);
    if (pid)
        ah_buf_put_u32(out, (uint32_t)pid);
    return mark;
}

void ah_frame_end(size_t mark)
{
    struct ah_buf *out = &ah_self.out;
    size_t len = ah_buf_len(out) - mark - 4;
    if (len > AH_MAX_FRAME)
        ah_die(AH_EXIT_TEMP, "outgoing frame of %zu bytes", len);
    ah_buf_patch_u32(out, out->start + mark, (uint32_t)len);
}

static size_t reply_begin(pid_t pid, uint32_t reqid, int status)
{
    size_t mark = ah_frame_begin(AH_F_REPLY, pid);
    ah_buf_put_u32(&ah_self.out, reqid);
    ah_buf_put_u8(&ah_self.out, (uint8_t)status);
    return mark;
}

void ah_reply_raw(pid_t pid, uint32_t reqid, int status, const void *value, size_t len)
{
    size_t mark = reply_begin(pid, reqid, status);
    ah_buf_append(&ah_self.out, value, len);
    ah_frame_end(mark);
}

void ah_reply_errno(pid_t pid, uint32_t reqid, int err)
{
    size_t mark = reply_begin(pid, reqid, AH_ST_ERRNO);
    ah_mp_put_int(&ah_self.out, err);
    ah_frame_end(mark);
}

void ah_reply_str(pid_t pid, uint32_t reqid, int status, const char *msg)
{
    size_t mark = reply_begin(pid, reqid, status);
    ah_mp_put_cstr(&ah_self.out, msg);
    ah_frame_end(mark);
}

void ah_reply_ok(pid_t pid, uint32_t reqid)
{
    size_t mark = reply_begin(pid, reqid, AH_ST_OK);
    ah_mp_put_nil(&ah_self.out);
    ah_frame_end(mark);
}

void ah_reply_int(pid_t pid, uint32_t reqid, int64_t value)
{
    size_t mark = reply_begin(pid, reqid, AH_ST_OK);
    ah_mp_put_int(&ah_self.out, value);
    ah_frame_end(mark);
}

void ah_emit_event(pid_t pid, int tag, int nvals, const int64_t *vals)
{
    size_t mark = ah_frame_begin(AH_F_EVENT, pid);
    ah_mp_put_array(&ah_self.out, (uint32_t)nvals + 1);
    ah_mp_put_int(&ah_self.out, tag);
    for (int i = 0; i < nvals; i++)
        ah_mp_put_int(&ah_self.out, vals[i]);
    ah_frame_end(mark);
}

void ah_emit_gone(pid_t pid, int status)
{
    size_t mark = ah_frame_begin(AH_F_GONE, pid);
    ah_mp_put_int(&ah_self.out, status);
    ah_frame_end(mark);
}

void ah_emit_output(pid_t pid, uint8_t type, const void *data, size_t len)
{
    size_t mark = ah_frame_begin(type, pid);
    ah_buf_append(&ah_self.out, data, len);
    ah_frame_end(mark);
}

/* Write all of iov to fd 1, which blocks, or find that nobody reads it any
 * more (EPIPE): then stop serving. */
static void write_out(struct iovec *iov, int cnt)
{
    int k = 0;
    while (k < cnt && !ah_self.out_broken) {
        ssize_t n = writev(STDOUT_FILENO, iov + k, cnt - k);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ah_self.out_broken = true;
            ah_loop_shutdown();
            return;
        }
        size_t left = (size_t)n;
        while (k < cnt && left >= iov[k].iov_len) {
            left -= iov[k].iov_len;
            k++;
        }
        if (k < cnt) {
            iov[k].iov_base = (uint8_t *)iov[k].iov_base + left;
            iov[k].iov_len -= left;
        }
    }
}

void ah_out_relay(struct iovec *iov, int cnt)
{
    size_t total = 0;
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    if (ah_buf_len(&ah_self.out) > 0 || total < AH_RELAY_DIRECT_MIN) { /* keep the order: queue */
        for (int i = 0; i < cnt; i++)
            ah_buf_append(&ah_self.out, iov[i].iov_base, iov[i].iov_len);
        return;
    }
    write_out(iov, cnt);
}

void ah_out_flush(void)
{
    struct ah_buf *out = &ah_self.out;
    if (ah_buf_len(out) == 0)
        return; /* nothing queued (and maybe no buffer yet: no head to take) */
    struct iovec all = {ah_buf_head(out), ah_buf_len(out)};
    write_out(&all, 1);
    ah_buf_clear(out); /* written, or nobody is listening any more */
}

/* Move len bytes that are already in the pipe fd to fd 1 with read and
 * write: the fallback when splice cannot be used. */
static void copy_out(int fd, size_t len)
{
    uint8_t tmp[16384];
    while (len > 0 && !ah_self.out_broken) {
        ssize_t n = AH_RETRY(read(fd, tmp, len < sizeof(tmp) ? len : sizeof(tmp)));
        if (n <= 0)
            ah_die(AH_EXIT_TEMP, "spliced frame: %zu promised bytes missing from fd %d", len, fd);
        struct iovec iov = {tmp, (size_t)n};
        write_out(&iov, 1);
        len -= (size_t)n;
    }
}

void ah_out_splice(struct iovec *iov, int cnt, int fd, size_t len)
{
    ah_out_flush(); /* what was queued before goes first */
    write_out(iov, cnt);
    int stalls = 0;
    while (len > 0 && !ah_self.out_broken && !ah_self.splice_off) {
        /* fd is non-blocking, so this never sleeps: a full fd 1 gives EAGAIN. */
        ssize_t n = splice(fd, NULL, STDOUT_FILENO, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            len -= (size_t)n;
            stalls = 0;
        } else if (n < 0 && errno == EAGAIN && stalls++ < 2) {
            struct pollfd p = {STDOUT_FILENO, POLLOUT, 0};
            (void)AH_RETRY(poll(&p, 1, -1)); /* wait for room, as the blocking write would */
        } else if (n < 0 && errno == EPIPE) {
            ah_self.out_broken = true;
            ah_loop_shutdown();
        } else if (!(n < 0 && errno == EINTR)) {
            ah_self.splice_off = true; /* EINVAL (fd 1 is no pipe) or an input that stopped short */
        }
    }
    if (len > 0 && !ah_self.out_broken)
        copy_out(fd, len);
}
