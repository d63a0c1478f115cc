/* tap.h: a minimal TAP producer for the C unit tests (header-only, one per
 * test program). ok(cond, fmt, ...) prints "ok N - ..." or "not ok N - ...";
 * tap_done() prints the plan and returns the exit status. */
#ifndef AH_TAP_H
#define AH_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int t_run, t_failed;

static void ok_at(int cond, const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void ok_at(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    t_run++;
    printf("%s %d - ", cond ? "ok" : "not ok", t_run);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond) {
        t_failed++;
        printf("#   failed at %s:%d\n", file, line);
    }
}
#define ok(cond, ...) ok_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#endif
