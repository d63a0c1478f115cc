/* spawn_floor.c: the spawn floor. vfork + execve(argv[2]) + waitpid, argv[1]
 * times, sequentially; prints nothing. Time it from outside. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char *argv[])
{
    if (argc < 3)
        return 100;
    long n = atol(argv[1]);
    for (volatile long i = 0; i < n; i++) {
        pid_t pid = vfork();
        if (pid == 0) {
            execve(argv[2], argv + 2, environ);
            _exit(127);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return 1;
    }
    return 0;
}
