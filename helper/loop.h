/* loop.h: the control loop every control process runs. */
#ifndef AH_LOOP_H
#define AH_LOOP_H

#include <stdbool.h>

#include <sys/types.h>

/* Serve requests until shut down, then exit; never returns. */
_Noreturn void ah_loop_run(void);
/* Begin shutting down: signal or close every child, and exit once they are
 * gone or the grace period has passed. Idempotent. */
void ah_loop_shutdown(void);
struct ah_watch;
/* Remove fd from the loop's interest set: call before closing a watched fd
 * (epoll would keep watching it while a forked child holds a copy). */
void ah_loop_unwatch(int fd, struct ah_watch *w);
/* Reset inherited state in a freshly forked child before it runs the loop. */
void ah_loop_init_child(pid_t parent, int ctl_fd);
/* Is fd one the loop itself depends on (its pipes, its children's, epoll,
 * signalfd)? Calls that would close or write them refuse with EPERM. */
bool ah_fd_internal(int fd);

#endif
