/* exec.c: exec with an honest result. The marker tells the parent that
 * everything after it on our stdout is the program's; the close-on-exec ctl
 * pipe then tells it whether exec worked (EOF) or failed (the errno). */
#define _GNU_SOURCE
#include "exec.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "frame.h"
#include "proc.h"
#include "sig.h"
#include "util.h"

int ah_exec(struct ah_call *c, enum ah_exec_how how, const char *file, int fd, char *const argv[], char *const envp[])
{
    if (ah_self.ctl_fd < 0)
        return ah_badarg(c, "the helper itself cannot exec: fork a child and exec that");
    size_t mark = ah_frame_begin(AH_F_EXEC, 0);
    ah_buf_put_u32(&ah_self.out, c->reqid);
    ah_frame_end(mark);
    ah_out_flush();

    ah_sig_before_exec();
    /* Die with the parent; if it already died, the pdeathsig was missed. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        ah_die_errno("PR_SET_PDEATHSIG");
    if (getppid() != ah_self.parent)
        ah_die(AH_EXIT_TEMP, "parent %d died before exec", (int)ah_self.parent);
    switch (how) {
    case AH_EXEC_SEARCH:
        execvpe(file, argv, envp);
        break;
    case AH_EXEC_FD:
        fexecve(fd, argv, envp);
        break;
    case AH_EXEC_PATH:
    default:
        execve(file, argv, envp);
        break;
    }
    int32_t err = errno;
    prctl(PR_SET_PDEATHSIG, 0);
    ah_sig_after_failed_exec();
    if (AH_RETRY(write(ah_self.ctl_fd, &err, sizeof(err))) != (ssize_t)sizeof(err))
        ah_die_errno("write ctl");
    return AH_NOREPLY;
}
