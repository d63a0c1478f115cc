/* frame.h: building upward frames in the process's output buffer.
 * Layout: |len:4|type:1|depth:1|pid:4 x depth|body|. A frame about a child
 * carries that child's pid (depth 1); each relaying parent prepends its own
 * child's pid, so the frame reaches Python with the full pipeline. */
#ifndef AH_FRAME_H
#define AH_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <sys/types.h>

/* pid 0 means "about this process itself" (depth 0). */
size_t ah_frame_begin(uint8_t type, pid_t pid);
void ah_frame_end(size_t mark);

void ah_reply_raw(pid_t pid, uint32_t reqid, int status, const void *value, size_t len);
void ah_reply_errno(pid_t pid, uint32_t reqid, int err);
void ah_reply_str(pid_t pid, uint32_t reqid, int status, const char *msg);
void ah_reply_ok(pid_t pid, uint32_t reqid); /* value nil */
void ah_reply_int(pid_t pid, uint32_t reqid, int64_t value);
void ah_emit_event(pid_t pid, int tag, int nvals, const int64_t *vals);
void ah_emit_gone(pid_t pid, int status);
void ah_emit_output(pid_t pid, uint8_t type, const void *data, size_t len);

/* Write all pending output to fd 1, blocking. On EPIPE the parent is gone:
 * output is dropped from then on and the process shuts down. */
void ah_out_flush(void);
/* Send a relayed frame, iov[0] its new head and the rest its body in
 * pieces read from a child: written straight from the child's buffer when
 * nothing is queued before it and it is large (no copy into the output
 * queue), else queued. */
#define AH_RELAY_DIRECT_MIN (64 * 1024)
void ah_out_relay(struct iovec *iov, int cnt);
/* Send a frame made of iov (its head, then bytes already read) and the
 * next len bytes of the pipe fd, moved to fd 1 by splice(2) without passing
 * through our memory. The caller has seen (FIONREAD) that those len bytes
 * are in the pipe, so the frame can never be cut short by its source. */
#define AH_SPLICE_MIN (16 * 1024)
void ah_out_splice(struct iovec *iov, int cnt, int fd, size_t len);
/* After a frame of AH_PROBE_AFTER bytes or more, the next read at a frame
 * boundary takes only AH_PROBE_READ bytes (a head and a little of the
 * body), so that a big body can be spliced rather than read. */
#define AH_PROBE_AFTER (64 * 1024)
#define AH_PROBE_READ 4096

#endif
