/* exec.h: replacing a control process with a program. */
#ifndef AH_EXEC_H
#define AH_EXEC_H

#include "call.h"

/* Send the EXEC marker, then exec. Returns only on failure: the errno goes
 * to the parent on the ctl pipe (it answers the call) and we keep serving. */
int ah_exec(struct ah_call *c, const char *file, char *const argv[], char *const envp[], int search_path);

#endif
