/* waitpid(2) beside a loop that reaps its own children: a ptrace stop or an
 * exit the loop already reaped (remembered for the last 64 children nobody
 * waited for) is handed out first, for a pid, for -1 (any child) and, for
 * stops, for a process group; otherwise the real waitpid runs, and an exit
 * it collects is reported (events, GONE) exactly as if the loop had reaped
 * it. Options are checked as the kernel checks them, so a collected status
 * is never handed out for a request the real waitpid refuses (WNOWAIT and
 * WEXITED are waitid's: EINVAL). */
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../child.h"
#include "../gen/calls.h"
#include "../proc.h"

#define WAIT4_OPTIONS (WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL)

static int reply(struct ah_call *c, pid_t pid, int status)
{
    ah_mp_put_array(c->out, 2);
    ah_mp_put_int(c->out, pid);
    ah_mp_put_int(c->out, status);
    return AH_ST_OK;
}

/* Does child ch, which has a stop pending, belong to what pid asks for? */
static bool stop_wanted(const struct ah_child *ch, pid_t pid)
{
    if (pid == -1 || pid == ch->pid)
        return true;
    if (pid > 0)
        return false;
    pid_t group = getpgid(ch->pid);
    return group >= 0 && group == (pid == 0 ? getpgrp() : -pid);
}

/* A child in the table with a stop the loop collected, else one with an
 * exit nobody waited for (exits by pid or -1 only: the process group of a
 * reaped process is no longer known). */
static struct ah_child *collected(pid_t pid)
{
    if (pid > 0) {
        struct ah_child *ch = ah_child_find(pid);
        return ch != NULL && (ch->stop_pending || (ch->exited && !ch->exit_waited)) ? ch : NULL;
    }
    for (size_t i = 0; i < ah_self.nchildren; i++)
        if (ah_self.children[i]->stop_pending && stop_wanted(ah_self.children[i], pid))
            return ah_self.children[i];
    for (size_t i = 0; pid == -1 && i < ah_self.nchildren; i++)
        if (ah_self.children[i]->exited && !ah_self.children[i]->exit_waited)
            return ah_self.children[i];
    return NULL;
}

int ah_call_waitpid(struct ah_call *c, const struct ah_args_waitpid *a)
{
    if (a->options & ~(int64_t)WAIT4_OPTIONS) {
        errno = EINVAL;
        return AH_ST_ERRNO;
    }
    struct ah_child *ch = collected((pid_t)a->pid);
    if (ch != NULL && ch->stop_pending) {
        ch->stop_pending = false;
        return reply(c, ch->pid, ch->stop_status);
    }
    if (ch != NULL) {
        ch->exit_waited = true;
        return reply(c, ch->pid, ch->status);
    }
    const size_t ring = sizeof(ah_self.unwaited) / sizeof(ah_self.unwaited[0]);
    for (size_t i = 0; i < ring; i++) { /* collected, not yet waited for */
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
