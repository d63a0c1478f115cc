/* util.c: die() and checked allocation. Dying is the answer to a broken
 * invariant: once state may be corrupt the process must not keep serving. */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ah_die(int code, const char *fmt, ...)
{
    va_list ap;
    char msg[512];
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n > 0) {
        char line[600];
        int m = snprintf(line, sizeof(line), "alcovepy-helper[%d]: %s\n", (int)getpid(), msg);
        if (m > 0 && write(STDERR_FILENO, line, (size_t)m) < 0) {
            /* nothing left to report to */
        }
    }
    _exit(code);
}

void ah_die_errno(const char *what)
{
    ah_die(AH_EXIT_TEMP, "%s: %s", what, strerror(errno));
}

void *ah_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        ah_die_errno("malloc");
    return p;
}

void *ah_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        ah_die_errno("realloc");
    return q;
}

void *ah_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        ah_die_errno("calloc");
    return p;
}

char *ah_argv_area;
size_t ah_argv_len;

void ah_argv_init(char **argv)
{
    extern char **environ;
    if (argv == NULL || argv[0] == NULL)
        return;
    char *end = argv[0] + strlen(argv[0]) + 1;
    for (int i = 1; argv[i] != NULL && argv[i] == end; i++)
        end += strlen(argv[i]) + 1;
    for (size_t i = 0; environ != NULL && environ[i] != NULL; i++) {
        if (environ[i] != end)
            continue;
        end += strlen(environ[i]) + 1;
        size_t n = strlen(environ[i]) + 1;
        char *copy = ah_xmalloc(n);
        memcpy(copy, environ[i], n);
        environ[i] = copy;
    }
    ah_argv_area = argv[0];
    ah_argv_len = (size_t)(end - argv[0]);
}
