/* call.h: the dispatcher's view of one call: its argument reader, its reply
 * buffer and a small arena for decoded strings. Call handlers return a wire
 * status (AH_ST_*), or AH_NOREPLY when someone else will answer (exec). */
#ifndef AH_CALL_H
#define AH_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "msg.h"
#include "util.h"

#define AH_NOREPLY (-1)

struct ah_bytes {
    const uint8_t *p; /* NULL for an optional_bytes sent as nil */
    size_t len;
};

struct ah_ints {
    int64_t *v;
    uint32_t n;
};

struct ah_rlim {
    int64_t cur, max; /* -1 = RLIM_INFINITY */
};

struct ah_callset {
    uint8_t bits[32]; /* bit id set: the call is named */
};

struct ah_writes {
    struct ah_bytes *path, *data; /* raw: "{pid}" is replaced when written */
    uint32_t n;
};

struct ah_steps {
    struct ah_mp at; /* the steps, checked in shape: [[call id, [args...]], ...] */
    uint32_t n;
};

/* Why a clone_exec child did not exec: sent on its ctl pipe in one write. */
struct ah_setup_report {
    int32_t step;   /* index in steps; nsteps for the exec itself */
    int32_t status; /* AH_ST_* of the failed step */
    int32_t err;    /* errno, for AH_ST_ERRNO */
    char msg[116];  /* the step's message (badarg text, constant or call name) */
};

#define AH_MAX_COUNT (16 * 1024 * 1024) /* largest read(2) count */

#include "inout.h"

struct ah_call {
    struct ah_mp args;   /* positioned at the next undecoded argument */
    uint32_t reqid;
    struct ah_buf *out;  /* the reply value (msgpack) is appended here */
    int fail;            /* status of the last failed argument decoder */
    char err[160];       /* message for AH_ST_BADARG, name for AH_ST_UNKNOWN_CONSTANT */
    void *arena[64];
    size_t narena;
};

struct ah_call_def {
    int id;
    const char *name;
    int nargs;
    int (*dispatch)(struct ah_call *c);
    int step; /* may run as a setup step */
};

/* Argument decoders: 0 on success; on failure -1 with c->fail and c->err set. */
int ah_arg_int(struct ah_call *c, int64_t min, int64_t max, int64_t *v);
int ah_arg_cstr(struct ah_call *c, int nonempty, const char **s);
int ah_arg_bytes(struct ah_call *c, struct ah_bytes *b);
int ah_arg_argv(struct ah_call *c, char ***argv);
int ah_arg_optional_argv(struct ah_call *c, char ***argv); /* nil: *argv = NULL */
int ah_arg_constant(struct ah_call *c, int family, int flags, int64_t *v);
int ah_arg_option(struct ah_call *c, int *opt);
int ah_arg_handler(struct ah_call *c, int *h);
int ah_arg_ints(struct ah_call *c, int64_t min, int64_t max, struct ah_ints *v);
int ah_arg_optional_bytes(struct ah_call *c, struct ah_bytes *b);
int ah_arg_timeout(struct ah_call *c, int64_t *usec); /* nil: -1 */
int ah_arg_rlimit(struct ah_call *c, struct ah_rlim *r);
int ah_arg_calls(struct ah_call *c, struct ah_callset *set);
int ah_arg_inout(struct ah_call *c, struct ah_inout *x);
int ah_arg_writes(struct ah_call *c, struct ah_writes *w);
int ah_arg_steps(struct ah_call *c, struct ah_steps *s);

/* Run checked setup steps in a clone_exec child, denying what filter denies.
 * 0 if all succeeded, else -1 with the report filled in. */
int ah_call_run_steps(const struct ah_steps *s, const uint8_t *filter, struct ah_setup_report *r);

enum ah_handler { AH_HANDLER_QUERY = -1, AH_HANDLER_DFL = 0, AH_HANDLER_IGN = 1, AH_HANDLER_INFO = 2 };
extern const char *const ah_handler_names[3];

/* Resolve a constant name (case-insensitive) in a family: 0, or -1 if unknown. */
int ah_constant_lookup(int family, const char *name, int64_t *v);
/* The first name of value v in a family, or NULL. */
const char *ah_constant_name(int family, int64_t v);

/* Allocate memory that lives until the reply is sent. */
void *ah_arena_alloc(struct ah_call *c, size_t n);
int ah_badarg(struct ah_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Decode and run the call in the frame body (reqid, call id, args). */
void ah_call_run(const uint8_t *body, size_t len);
/* Names of every call, one per line: the stale-binary check. */
void ah_call_list(void);

#endif
