/* main.c: start-up of the helper, then the loop.
 *  1. answer --list-calls / --version (tests, stale-binary check);
 *  2. make sure fds 0-2 exist, so no pipe we create lands on them;
 *  3. become a child subreaper: no descendant is ever left to PID 1;
 *  4. take options from the environment-free defaults of the table;
 *  5. send the hello frame (protocol version, table digest) and serve. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "call.h"
#include "frame.h"
#include "loop.h"
#include "msg.h"
#include "proc.h"
#include "sig.h"
#include "util.h"

static void ensure_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0)
            continue;
        int n = open("/dev/null", O_RDWR);
        if (n < 0)
            ah_die_errno("open /dev/null");
        if (n != fd)
            ah_die(AH_EXIT_TEMP, "fd %d missing", fd);
    }
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void hello(void)
{
    size_t mark = ah_frame_begin(AH_F_HELLO, 0);
    ah_mp_put_array(&ah_self.out, 4);
    ah_mp_put_int(&ah_self.out, AH_PROTOCOL_VERSION);
    ah_mp_put_cstr(&ah_self.out, AH_SPEC_DIGEST);
    ah_mp_put_cstr(&ah_self.out, AH_VERSION);
    ah_mp_put_int(&ah_self.out, getpid());
    ah_frame_end(mark);
    ah_out_flush();
}

int main(int argc, char *argv[])
{
    if (argc == 2 && strcmp(argv[1], "--list-calls") == 0) {
        ah_call_list();
        return AH_EXIT_OK;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("%s %s\n", AH_VERSION, AH_SPEC_DIGEST);
        return AH_EXIT_OK;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--list-calls | --version]\n", argv[0]);
        return AH_EXIT_USAGE;
    }
    ensure_std_fds();
    ah_argv_init(argv);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        ah_die_errno("PR_SET_CHILD_SUBREAPER");
    /* Not dumpable: another process of our uid cannot open /proc/PID/fd/0 and
     * write requests into a control process. Forked control processes inherit
     * it; exec gives programs the usual setting. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        ah_die_errno("PR_SET_DUMPABLE");
    raise_nofile();
    for (int i = 0; i < AH_NOPTS; i++)
        ah_self.opt[i] = ah_option_defs[i].def;
    ah_self.parent = getppid();
    sigemptyset(&ah_self.info_set);
    ah_sig_init();
    hello();
    ah_loop_run();
}
