/* proc.h: the state of one control process (the helper, or any child still
 * running the loop): options, its own pipes and its table of children. */
#ifndef AH_PROC_H
#define AH_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "call.h"
#include "gen/wire.h"

enum ah_mode {
    AH_MODE_LOOP,         /* the child runs the control loop; its stdout carries frames */
    AH_MODE_EXEC_PENDING, /* it sent an exec marker; its ctl pipe will tell how exec went */
    AH_MODE_EXECED,       /* a program: stdout and stderr are raw streams */
};

struct ah_ack {
    uint32_t reqid;
    uint64_t upto;  /* acknowledge once this many stdin bytes were written */
    bool close;     /* close the pipe at that point, then acknowledge */
};

enum ah_ctl { AH_CTL_OPEN, AH_CTL_EOF, AH_CTL_ERRNO };

/* What an epoll event is about; its registered interest is cached so the
 * loop only calls epoll_ctl when it changes. */
enum ah_what { AH_W_SIG, AH_W_STDIN, AH_W_CHILD_IN, AH_W_CHILD_OUT, AH_W_CHILD_ERR, AH_W_CHILD_CTL };
struct ah_watch {
    struct ah_child *child;
    enum ah_what what;
    uint32_t armed; /* events registered with epoll, 0 = not registered */
};
enum { AH_IN, AH_OUT, AH_ERR, AH_CTL }; /* index of a child's watch */

struct ah_child {
    pid_t pid;
    int fd_in, fd_out, fd_err, fd_ctl; /* parent-side ends, -1 once closed */
    enum ah_mode mode;
    uint32_t exec_reqid;
    enum ah_ctl ctl;   /* what the ctl pipe said, kept until the exec marker is seen */
    int ctl_errno;
    bool setup;        /* a clone_exec child: its parent answers, and it never runs the loop */
    bool answer_exit;  /* a spawn_wait child: its exit answers exec_reqid, and nothing else is said of it */
    struct ah_setup_report report; /* why it did not exec (ctl = AH_CTL_ERRNO) */
    bool exited;
    int status;        /* wait status, once exited */
    bool exit_waited;  /* waitpid already returned the exit status */
    bool stop_pending; /* a ptrace stop the loop collected, kept for waitpid */
    int stop_status;
    int64_t credit[2]; /* output credit of stdout, stderr in bytes; -1 = unlimited */
    int64_t signaloneof;
    uint64_t out_bytes; /* read from stdout so far: a busy stream gets a bigger pipe */
    struct ah_buf in_q;   /* bytes waiting for fd_in */
    uint64_t in_queued; /* bytes ever queued; written = in_queued - len(in_q) */
    struct ah_ack *acks;
    size_t nacks, cap_acks;
    struct ah_buf out_rd; /* partial frames read from a loop child's stdout */
    int probe;            /* > 0: big output frames come, read heads first to splice their bodies;
                           * counts down on each head read that finds no big frame */
    size_t cont_left;     /* body bytes still to come of the frame being cut through */
    struct ah_watch watch[4];
};

/* A stdin frame for a program being passed on as it comes (child.c). */
struct ah_in_cut {
    pid_t pid;
    uint32_t reqid;
    size_t left;   /* its bytes still to come on fd 0; 0: none in progress */
    bool answered; /* the request already failed and was answered: drop the rest */
};

struct ah_proc {
    int depth;
    pid_t parent;       /* pid of the parent at fork time (pdeathsig race check) */
    int ctl_fd;         /* write end of this process's exec-status pipe; -1 in the root */
    int sig_fd;
    sigset_t sig_mask;  /* signals read from sig_fd: SIGCHLD plus the SIG_INFO set */
    sigset_t info_set;  /* signals the user asked to see as Signal events */
    bool pipe_ignored;  /* the user set SIGPIPE to SIG_IGN (kept for exec) */
    int64_t opt[AH_NOPTS];
    struct ah_buf in;   /* bytes read from fd 0 */
    struct ah_in_cut in_cut;
    struct ah_buf out;  /* frames waiting for fd 1 */
    bool out_broken;    /* fd 1 is gone: output is dropped */
    bool splice_off;    /* fd 1 refused a splice (not a pipe): relays copy instead */
    struct ah_child **children;
    size_t nchildren, cap_children;
    uint8_t filter_self[32];     /* call ids denied to this process */
    uint8_t filter_children[32]; /* call ids denied to children forked later */
    struct { pid_t pid; int status; } unwaited[64]; /* exits collected, not yet waitpid'ed (a ring) */
    size_t nunwaited;
    bool shutting_down;
    int64_t deadline_ms;
};

extern struct ah_proc ah_self;

int64_t ah_now_ms(void);

#endif
