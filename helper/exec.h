/* exec.h: replacing a control process with a program. */
#ifndef AH_EXEC_H
#define AH_EXEC_H

#include "call.h"

/* Send the EXEC marker, then exec. Returns only on failure: the errno goes
 * to the parent on the ctl pipe (it answers the call) and we keep serving.
 * how: execve(file), execvpe(file) or fexecve(fd). */
enum ah_exec_how { AH_EXEC_PATH, AH_EXEC_SEARCH, AH_EXEC_FD };
int ah_exec(struct ah_call *c, enum ah_exec_how how, const char *file, int fd, char *const argv[], char *const envp[]);

#endif
