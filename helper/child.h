/* child.h: the table of a control process's children and everything done to
 * their pipes: forwarding frames down, relaying frames and output up,
 * following exec through the ctl pipe, and reporting exit. */
#ifndef AH_CHILD_H
#define AH_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "call.h"
#include "proc.h"

/* The namespace flags clone and clone_exec accept: every CLONE_NEW*. */
int64_t ah_clone_ns_flags(void);

struct ah_child *ah_child_find(pid_t pid);
/* fork (use_clone = 0) or clone with flags: returns the call status. In the
 * child it does not return: the child runs its own loop. */
int ah_child_spawn(struct ah_call *c, int use_clone, int64_t flags);

/* fork a child that execs at once; answered when exec succeeded or failed. */
int ah_child_spawn_exec(struct ah_call *c, const char *file, char *const argv[], char *const envp[]);

/* spawn_wait: vfork a child that execs at once on /dev/null; answered with
 * its exit status (AH_NOREPLY now) when it ends. */
int ah_child_spawn_wait(struct ah_call *c, const char *file, char *const argv[], char *const envp[]);

/* clone_exec: clone with flags, write writes from here, run steps in the
 * child, exec. Answered (AH_NOREPLY now) when the child execs or fails. */
int ah_child_clone_exec(struct ah_call *c, int64_t flags, const struct ah_writes *writes, const struct ah_steps *steps,
                        const char *file, char *const argv[], char *const envp[]);

void ah_child_forward(struct ah_child *c, const uint8_t *frame, uint32_t len);
void ah_child_stdin(struct ah_child *c, uint32_t reqid, const uint8_t *data, size_t len);
void ah_child_close_stdin(struct ah_child *c, uint32_t reqid);
/* Cut-through of a big stdin frame (see child.c): start it for the partial
 * frame f (have of its len bytes read; false: not such a frame), then
 * continue it each time fd 0 is readable while ah_self.in_cut.left > 0. */
bool ah_child_stdin_cut(const uint8_t *f, size_t have, uint32_t len);
void ah_child_stdin_cut_continue(void);
void ah_child_credit(struct ah_child *c, int stream, uint32_t amount);

void ah_child_on_stdin_writable(struct ah_child *c);
void ah_child_on_stdout(struct ah_child *c);
void ah_child_on_stderr(struct ah_child *c);
void ah_child_on_ctl(struct ah_child *c);
void ah_child_on_exit(struct ah_child *c, int status);

/* Free the slots of children that exited and whose output ended. */
void ah_children_collect(void);
/* Shutdown: send signaloneof to programs, EOF to control children. */
void ah_children_signal(void);
/* SIGKILL and reap every child, known or re-parented to us; bounded. */
void ah_children_kill_all(void);
/* Close every child's fds in a freshly forked child and forget them. */
void ah_children_forget(void);

#endif
