/* The program's end and its helpers: EXEC, RUN_HOOK, CLOSE_FDS. */
#include "init.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void op_exec(const struct op *o) {
  char **argv = arg_strlist(o, 0), **envp = arg_strlist(o, 1);
  int err;
  if (arg_int(o, 2) == 1 && !strchr(argv[0], '/')) {
    const char *path = DEFAULT_PATH;
    for (char **e = envp; *e; e++)
      if (!strncmp(*e, "PATH=", 5)) path = *e + 5;
    int denied = 0;
    err = ENOENT;
    for (const char *d = path;; d++) {
      char full[4096];
      size_t dl = strcspn(d, ":"), al = strlen(argv[0]);
      if (dl + al + 2 <= sizeof full) {
        memcpy(full, dl ? d : ".", dl ? dl : 1);
        full[dl ? dl : 1] = '/';
        memcpy(full + (dl ? dl : 1) + 1, argv[0], al + 1);
        execve(full, argv, envp);
        if (errno == EACCES) denied = 1;
        else if (errno != ENOENT && errno != ENOTDIR) {
          err = errno;
          break;
        }
      }
      d += dl;
      if (!*d) break;
    }
    if (err == ENOENT && denied) err = EACCES;
  } else {
    execve(argv[0], argv, envp);
    err = errno;
  }
  fail_code(err == ENOENT || err == ENOTDIR ? 127 : 126, err, msg("exec `", argv[0], "`", NULL));
}

void op_close_fds(const struct op *o) {
  if (syscall(SYS_close_range, (unsigned)arg_int(o, 0) + 1, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0)
    fail(errno, "mark descriptors above ", num(arg_int(o, 0)), " close-on-exec");
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void op_run_hook(const struct op *o) {
  const char *path = arg_str(o, 0);
  char **args = arg_strlist(o, 1), **envp = arg_strlist(o, 2);
  char *dflt[2] = { (char *)path, NULL };
  const struct arg *in = &o->args[3];
  int64_t timeout = arg_int(o, 4);
  long long deadline = now_ms() + timeout;
  int p[2], st;
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  if (pipe2(p, O_CLOEXEC) < 0) fail(errno, "run hook `", path, "`");
  sigprocmask(SIG_BLOCK, &pipe_set, &old);
  long pid = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
  if (pid < 0) fail(errno, "run hook `", path, "`");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none); /* a hook after RELEASE would otherwise inherit the forwarded signals held */
    sigprocmask(SIG_SETMASK, &none, NULL);
    sync_fd = -1; /* the runtime hears of the failure from the parent */
    if (dup2(p[0], 0) < 0) _exit(127);
    execve(path, args[0] ? args : dflt, envp);
    fail_code(127, errno, msg("run hook `", path, "`", NULL));
  }
  close(p[0]);
  int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (pidfd < 0) fail(errno, "run hook `", path, "`");
  fcntl(p[1], F_SETFL, O_NONBLOCK);
  size_t off = 0;
  for (;;) {
    if (p[1] >= 0 && off == in->len) close(p[1]), p[1] = -1;
    struct pollfd fds[2] = { { pidfd, POLLIN, 0 }, { p[1], POLLOUT, 0 } };
    long long left = timeout > 0 ? deadline - now_ms() : -1;
    int r = timeout > 0 && left <= 0 ? 0 : poll(fds, p[1] >= 0 ? 2 : 1, timeout > 0 ? (int)left : -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(errno, "run hook `", path, "`");
    if (r == 0) {
      kill((pid_t)pid, SIGKILL);
      waitpid((pid_t)pid, &st, 0);
      fail(ETIMEDOUT, "run hook `", path, "`");
    }
    if (fds[0].revents) break;
    if (p[1] >= 0 && fds[1].revents) {
      ssize_t n = write(p[1], in->p + off, in->len - off);
      if (n > 0) off += (size_t)n;
      else if (n < 0 && errno != EAGAIN && errno != EINTR) off = in->len; /* EPIPE: hook ignores stdin */
    }
  }
  if (p[1] >= 0) close(p[1]);
  close(pidfd);
  if (waitpid((pid_t)pid, &st, 0) < 0) fail(errno, "run hook `", path, "`");
  struct timespec zero = { 0, 0 };
  while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE) {
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (WIFSIGNALED(st)) fail(0, "run hook `", path, "`: killed by signal ", num(WTERMSIG(st)));
  if (WEXITSTATUS(st)) fail(0, "run hook `", path, "`: exit status ", num(WEXITSTATUS(st)));
}
