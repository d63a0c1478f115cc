/* pingpong.c: the machine's floor for one round trip through a helper
 * process, with no Python and no event loop. Starts argv[2] (the echo) on
 * a pair of pipes, sends argv[1] 16-byte frames one at a time with a
 * blocking write and read, and prints the mean round trip in nanoseconds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    if (argc < 3)
        return 100;
    long n = atol(argv[1]);
    int to[2], from[2];
    if (pipe(to) < 0 || pipe(from) < 0)
        return 1;
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[0]), close(to[1]), close(from[0]), close(from[1]);
        execv(argv[2], argv + 2);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    unsigned char frame[20] = {0, 0, 0, 16}, reply[20];
    struct timespec t0, t1;
    for (long i = -100; i < n; i++) { /* 100 round trips of warm-up */
        if (i == 0)
            clock_gettime(CLOCK_MONOTONIC, &t0);
        if (write(to[1], frame, sizeof(frame)) != (ssize_t)sizeof(frame))
            return 1;
        for (size_t got = 0; got < sizeof(reply);) {
            ssize_t m = read(from[0], reply + got, sizeof(reply) - got);
            if (m <= 0)
                return 1;
            got += (size_t)m;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(to[1]);
    waitpid(pid, NULL, 0);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    printf("%.0f\n", ns / (double)n);
    return 0;
}
