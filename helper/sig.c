/* sig.c: signal handling of a control process. All signals we care about
 * are blocked and read from a signalfd in the loop, so no code runs in a
 * handler. SIGPIPE is ignored inside the loop (writes report EPIPE) and
 * restored to the user's choice before exec. */
#include "sig.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "call.h"
#include "child.h"
#include "frame.h"
#include "proc.h"
#include "util.h"

static void update_fd(void)
{
    int fd = signalfd(ah_self.sig_fd, &ah_self.sig_mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0)
        ah_die_errno("signalfd");
    ah_self.sig_fd = fd;
    if (sigprocmask(SIG_BLOCK, &ah_self.sig_mask, NULL) < 0)
        ah_die_errno("sigprocmask");
}

void ah_sig_init(void)
{
    if (ah_self.sig_fd >= 0)
        close(ah_self.sig_fd);
    ah_self.sig_fd = -1;
    sigemptyset(&ah_self.sig_mask);
    sigaddset(&ah_self.sig_mask, SIGCHLD);
    for (int s = 1; s < NSIG; s++)
        if (sigismember(&ah_self.info_set, s) == 1)
            sigaddset(&ah_self.sig_mask, s);
    signal(SIGPIPE, SIG_IGN);
    update_fd();
}

static void reap(void)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return; /* 0: none ready; -1: ECHILD */
        struct ah_child *c = ah_child_find(pid);
        if (c == NULL)
            continue; /* an orphan re-parented to us */
        if (WIFSTOPPED(status)) { /* a ptrace stop: the tracer asks with waitpid */
            c->stop_pending = true;
            c->stop_status = status;
        } else if (!c->exited) {
            ah_child_on_exit(c, status);
        }
    }
}

void ah_sig_read(void)
{
    struct signalfd_siginfo si[16];
    bool chld = false;
    for (;;) {
        ssize_t n = read(ah_self.sig_fd, si, sizeof(si));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
            int signo = (int)si[i].ssi_signo;
            if (signo == SIGCHLD)
                chld = true;
            if (sigismember(&ah_self.info_set, signo) == 1) {
                int64_t v[5] = {signo, si[i].ssi_code, si[i].ssi_pid, si[i].ssi_uid, si[i].ssi_status};
                ah_emit_event(0, AH_EV_SIGNAL, 5, v);
            }
        }
        if ((size_t)n < sizeof(si))
            break; /* drained: one that comes now makes the fd readable again (epoll is level-triggered) */
    }
    if (chld)
        reap();
}

static int current(int sig)
{
    struct sigaction sa;
    if (sigismember(&ah_self.info_set, sig) == 1)
        return AH_HANDLER_INFO;
    if (sig == SIGPIPE)
        return ah_self.pipe_ignored ? AH_HANDLER_IGN : AH_HANDLER_DFL;
    if (sigaction(sig, NULL, &sa) < 0)
        return -1;
    return sa.sa_handler == SIG_IGN ? AH_HANDLER_IGN : AH_HANDLER_DFL;
}

int ah_sig_set(int sig, int handler, int *old)
{
    if (sig <= 0 || sig >= NSIG) {
        errno = EINVAL;
        return -1;
    }
    if (sig == SIGKILL || sig == SIGSTOP) { /* can be queried, never changed */
        *old = AH_HANDLER_DFL;
        if (handler == AH_HANDLER_QUERY)
            return 0;
        errno = EINVAL;
        return -1;
    }
    *old = current(sig);
    if (*old < 0)
        return -1;
    if (handler == AH_HANDLER_QUERY || handler == *old)
        return 0;
    if (sig == SIGCHLD && handler == AH_HANDLER_IGN) {
        errno = EINVAL; /* would stop the loop from reaping its children */
        return -1;
    }
    if (handler == AH_HANDLER_INFO) {
        if (signal(sig, SIG_DFL) == SIG_ERR)
            return -1;
        sigaddset(&ah_self.info_set, sig);
        sigaddset(&ah_self.sig_mask, sig);
        update_fd();
        return 0;
    }
    if (sigismember(&ah_self.info_set, sig) == 1) {
        sigset_t one;
        sigdelset(&ah_self.info_set, sig);
        if (sig != SIGCHLD) {
            sigdelset(&ah_self.sig_mask, sig);
            sigemptyset(&one);
            sigaddset(&one, sig);
            update_fd();
            sigprocmask(SIG_UNBLOCK, &one, NULL);
        }
    }
    if (sig == SIGPIPE) {
        ah_self.pipe_ignored = handler == AH_HANDLER_IGN;
        return 0;
    }
    if (sig == SIGCHLD)
        return 0;
    return signal(sig, handler == AH_HANDLER_IGN ? SIG_IGN : SIG_DFL) == SIG_ERR ? -1 : 0;
}

void ah_sig_before_exec(void)
{
    sigset_t none;
    if (!ah_self.pipe_ignored)
        signal(SIGPIPE, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

void ah_sig_after_failed_exec(void)
{
    signal(SIGPIPE, SIG_IGN);
    sigprocmask(SIG_BLOCK, &ah_self.sig_mask, NULL);
    reap(); /* a SIGCHLD delivered while unblocked was discarded */
}
