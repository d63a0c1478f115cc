/* util.h: dying, allocation and retry helpers shared by every helper file. */
#ifndef AH_UTIL_H
#define AH_UTIL_H

#include <errno.h>
#include <stddef.h>

/* Exit codes of the helper and its control processes. */
enum ah_exit {
    AH_EXIT_OK = 0,
    AH_EXIT_USAGE = 100,     /* bad command line */
    AH_EXIT_PROTOCOL = 101,  /* malformed frame from the parent: state may be corrupt */
    AH_EXIT_TEMP = 111,      /* out of memory or an unexpected system error */
};

#define AH_RETRY(expr)                                 \
    ({                                                 \
        __typeof__(expr) ah_r_;                        \
        do ah_r_ = (expr);                             \
        while (ah_r_ == -1 && errno == EINTR);         \
        ah_r_;                                         \
    })

#define AH_UNUSED __attribute__((unused))

/* The argv area /proc/PID/cmdline shows, for setproctitle: argv[0] plus the
 * environment strings after it, which ah_argv_init moves to the heap. */
extern char *ah_argv_area;
extern size_t ah_argv_len;
void ah_argv_init(char **argv);

_Noreturn void ah_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void ah_die_errno(const char *what);
void *ah_xmalloc(size_t n);
void *ah_xrealloc(void *p, size_t n);
void *ah_xcalloc(size_t n, size_t size);

#endif
