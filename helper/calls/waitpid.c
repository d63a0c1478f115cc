/* waitpid(2) beside a loop that reaps its own children: a ptrace stop or an
 * exit the loop already reaped (remembered for the last 64 children nobody
 * waited for) is handed out first; otherwise the real
 * waitpid runs, and an exit it collects is reported (events, GONE) exactly
 * as if the loop had reaped it. */
#include <sys/wait.h>

#include "../child.h"
#include "../gen/calls.h"
#include "../proc.h"

static int reply(struct ah_call *c, pid_t pid, int status)
{
    ah_mp_put_array(c->out, 2);
    ah_mp_put_int(c->out, pid);
    ah_mp_put_int(c->out, status);
    return AH_ST_OK;
}

int ah_call_waitpid(struct ah_call *c, const struct ah_args_waitpid *a)
{
    struct ah_child *ch = a->pid > 0 ? ah_child_find((pid_t)a->pid) : NULL;
    if (ch != NULL && ch->stop_pending) {
        ch->stop_pending = false;
        return reply(c, ch->pid, ch->stop_status);
    }
    if (ch != NULL && ch->exited && !ch->exit_waited) {
        ch->exit_waited = true;
        return reply(c, ch->pid, ch->status);
    }
    const size_t ring = sizeof(ah_self.unwaited) / sizeof(ah_self.unwaited[0]);
    for (size_t i = 0; ch == NULL && i < ring; i++) { /* collected, not yet waited for */
        pid_t got = ah_self.unwaited[i].pid;
        if (got != 0 && (got == (pid_t)a->pid || a->pid == -1)) {
            ah_self.unwaited[i].pid = 0;
            return reply(c, got, ah_self.unwaited[i].status);
        }
    }
    int status = 0;
    pid_t pid = waitpid((pid_t)a->pid, &status, (int)a->options);
    if (pid < 0)
        return AH_ST_ERRNO;
    if (pid > 0 && (WIFEXITED(status) || WIFSIGNALED(status))) {
        struct ah_child *got = ah_child_find(pid);
        if (got != NULL && !got->exited) {
            got->exit_waited = true;
            ah_child_on_exit(got, status);
        }
    }
    return reply(c, pid, status);
}
