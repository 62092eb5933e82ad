/*
 * maxrss CMD [ARG...]: runs CMD and prints its peak resident set size in
 * KiB (wait4's ru_maxrss) on stdout; CMD's own output is discarded. A
 * small process of its own, so the figure is not raised by the parent's
 * pages before the exec (as it is when a Python or shell process forks).
 * Exits with CMD's status, 127 when CMD cannot be run.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: maxrss CMD [ARG...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("maxrss: fork");
        return 127;
    }
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, STDOUT_FILENO);
        execvp(argv[1], argv + 1);
        perror("maxrss: exec");
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) {
        perror("maxrss: wait4");
        return 127;
    }
    printf("%ld\n", ru.ru_maxrss);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 127;
}
