/* constant.c: constant names resolved against the system headers. The
 * headers listed here are where every family's names come from. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "call.h"
#include "gen/wire.h"

#include "gen/constants.h"
