/* sig.h: signals arrive on a signalfd, never in a handler. SIGCHLD is
 * always read (to reap); others only when the user asked for SIG_INFO. */
#ifndef AH_SIG_H
#define AH_SIG_H

#include <stdbool.h>

void ah_sig_init(void);      /* block and open the signalfd (root and every child) */
void ah_sig_read(void);      /* drain the signalfd: reap children, report signals */
int ah_sig_set(int sig, int handler, int *old); /* sigaction call: 0 or -1/errno */
void ah_sig_before_exec(void);  /* defaults and an empty mask for the program */
void ah_sig_after_failed_exec(void);

#endif
