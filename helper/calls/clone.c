/* clone: a new control process in new namespaces. Only CLONE_NEW* flags are
 * accepted: other clone flags (CLONE_VM, CLONE_THREAD...) would break the
 * fork-like copy the child relies on. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../child.h"
#include "../gen/calls.h"
#include "../util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

#define AH_CLONE_NS                                                                                      \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
     CLONE_NEWTIME)

/* Join our own time namespace again: its children are then born in it too.
 * Returns -1 with errno set. */
static int rejoin_own_time_ns(void)
{
    int fd = open("/proc/self/ns/time", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = setns(fd, CLONE_NEWTIME);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

/* CLONE_NEWTIME (0x80) lies in the exit-signal byte of the legacy clone(2)
 * syscall: passed there it is no namespace at all but exit signal 0x91, and
 * waitpid() without __WALL never reports such a child. A child is born in
 * its parent's time_for_children namespace, so: unshare(CLONE_NEWTIME) gives
 * our future children a new one, the child is cloned into it, and setns() to
 * our own time namespace makes later children ours again. The setns is tried
 * first, so that a caller it would refuse is left unchanged. Unlike clone3(2),
 * this needs CAP_SYS_ADMIN before the clone: an unprivileged
 * CLONE_NEWUSER | CLONE_NEWTIME is PermissionError, and the new time
 * namespace belongs to the caller's user namespace, not the new one. */
static int clone_newtime(struct ah_call *c, int64_t flags)
{
    struct stat self, kids;
    if (stat("/proc/self/ns/time", &self) < 0 || stat("/proc/self/ns/time_for_children", &kids) < 0) {
        if (errno == ENOENT)
            errno = EINVAL; /* a kernel without time namespaces, as unshare(2) says */
        return AH_ST_ERRNO;
    }
    if (self.st_ino != kids.st_ino || self.st_dev != kids.st_dev) {
        /* an earlier unshare(CLONE_NEWTIME) is pending for our children:
         * restoring afterwards would lose it */
        errno = EBUSY;
        return AH_ST_ERRNO;
    }
    if (rejoin_own_time_ns() < 0 || unshare(CLONE_NEWTIME) < 0)
        return AH_ST_ERRNO;
    int st = ah_child_spawn(c, 1, flags & ~(int64_t)CLONE_NEWTIME); /* only the parent returns */
    int e = errno;
    if (rejoin_own_time_ns() < 0) /* it worked a moment ago: we cannot be left half-changed */
        ah_die_errno("clone: setns back to our time namespace");
    errno = e;
    return st;
}

int ah_call_clone(struct ah_call *c, const struct ah_args_clone *a)
{
    if (a->flags < 0 || (a->flags & ~(int64_t)AH_CLONE_NS) != 0)
        return ah_badarg(c, "clone takes only CLONE_NEW* flags (got %#llx)", (unsigned long long)a->flags);
    if (a->flags & CLONE_NEWTIME)
        return clone_newtime(c, a->flags);
    return ah_child_spawn(c, 1, a->flags);
}
