#define _GNU_SOURCE
#include "system_calls.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/// Splits NUL-terminated strings laid end to end into a NULL-terminated array pointing into `list`; free() it.
static char **split(const char *list, size_t length) {
    size_t count = 0;
    for (size_t i = 0; i < length; i++) count += list[i] == '\0';
    char **items = calloc(count + 1, sizeof(char *));
    if (items == NULL) return NULL;
    size_t item = 0;
    for (size_t i = 0; i < length && item < count; i += strlen(list + i) + 1) items[item++] = (char *)list + i;
    return items;
}

int cg_spawn(const char *path, const char *arguments, size_t arguments_length, const char *environment,
             size_t environment_length, pid_t *pid, int *input, int *output) {
    int in_pipe[2], out_pipe[2];
    // Close-on-exec from the start: no child started meanwhile by another thread can inherit these ends.
    if (pipe2(in_pipe, O_CLOEXEC) != 0) return errno;
    if (pipe2(out_pipe, O_CLOEXEC) != 0) {
        int error = errno;
        close(in_pipe[0]);
        close(in_pipe[1]);
        return error;
    }
    char **argv = split(arguments, arguments_length);
    char **envp = split(environment, environment_length);
    int result = argv != NULL && envp != NULL ? 0 : ENOMEM;

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // dup2 clears close-on-exec on the copies; every other descriptor (sockets of this process that are not
    // close-on-exec, another child's pipe made by other code) is closed, so the child holds no port or pipe of ours
    // open after we close it.
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#else
    if (result == 0) result = ENOSYS;
#endif
    // A parent's blocked SIGTERM must not make the child deaf to being stopped.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    if (result == 0) result = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    free(argv);
    free(envp);
    close(in_pipe[0]);
    close(out_pipe[1]);
    if (result != 0) {
        close(in_pipe[1]);
        close(out_pipe[0]);
        return result;
    }
    *input = in_pipe[1];
    *output = out_pipe[0];
    return 0;
}

int cg_reap(pid_t pid, int blocking) {
    int raw = 0;
    pid_t reaped;
    do {
        reaped = waitpid(pid, &raw, blocking ? 0 : WNOHANG);
    } while (reaped == -1 && errno == EINTR);
    if (reaped != pid) return -1;
    return WIFSIGNALED(raw) ? 128 + WTERMSIG(raw) : WEXITSTATUS(raw);
}

int cg_write_all(int fd, const uint8_t *bytes, size_t count) {
    size_t sent = 0;
    while (sent < count) {
        ssize_t n = write(fd, bytes + sent, count - sent);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;
        sent += (size_t)n;
    }
    return 1;
}

size_t cg_read(int fd, uint8_t *buffer, size_t capacity) {
    while (1) {
        ssize_t n = read(fd, buffer, capacity);
        if (n < 0 && errno == EINTR) continue;
        return n > 0 ? (size_t)n : 0;
    }
}
