/* berth-init and the container: starting the one, reaping both, the exit file.
 *
 * The monitor is a child subreaper. When berth-init's parent half exits after RELEASE, the
 * container process (whose pid CHILD_PIDFILE wrote) is reparented to the monitor, which
 * waits for it. When the program has no CLONE, berth-init itself becomes the container
 * process; with WAIT_CHILD, berth-init reaps the container and exits with its status. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t init_pid, container_pid;
static const char *pid_file;
static int init_done, have_status, status;
static int64_t finished_at;
/* Children reaped before berth-init: the container may be among them. */
static struct { pid_t pid; int st; } early[8];
static unsigned nearly;

pid_t spawn_init(const struct spawn_opts *o) {
  int ep[2], e;
  if (pipe2(ep, O_CLOEXEC) < 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    e = errno;
    close(ep[0]);
    close(ep[1]);
    return errno = e, -1;
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    /* berth-init starts in its pid file's directory: a program that leaves the host's mount
     * namespace before it knows its child's pid writes the file there (PIDFILE_DIR "."). */
    char dir[4096];
    size_t l = strlen(o->pid_file);
    if (l >= sizeof dir) l = sizeof dir - 1;
    memcpy(dir, o->pid_file, l);
    dir[l] = 0;
    char *slash = strrchr(dir, '/');
    if (slash) *(slash == dir ? slash + 1 : slash) = 0;
    if ((!slash || chdir(dir) == 0) && dup2(o->stdin_fd, 0) >= 0 && dup2(o->stdout_fd, 1) >= 0 && dup2(o->stderr_fd, 2) >= 0) {
      for (size_t i = 0; i < o->npass; i++) fcntl(o->pass_fds[i], F_SETFD, 0);
      char *argv[] = { "berth-init", (char *)o->program, (char *)o->sync_fd, NULL };
      char *envp[] = { NULL };
      execve(o->init, argv, envp);
    }
    e = errno;
    if (write(ep[1], &e, sizeof e) < 0) { /* the monitor sees EOF and a dead child */ }
    _exit(127);
  }
  close(ep[1]);
  ssize_t n;
  do n = read(ep[0], &e, sizeof e);
  while (n < 0 && errno == EINTR);
  close(ep[0]);
  if (n == sizeof e) {
    waitpid(pid, NULL, 0);
    return errno = e, -1;
  }
  return pid;
}

void spawn_monitor(char *args, size_t len, const int *fds, size_t nfds) {
  char *argv[33];
  size_t argc = 0;
  if (len && !args[len - 1])
    for (size_t i = 0; i < len && argc < 32; i += strlen(args + i) + 1) argv[argc++] = args + i;
  argv[argc] = NULL;
  pid_t pid = argc ? fork() : (errno = EINVAL, -1);
  if (pid == 0) {
    /* Out of the way first (F_DUPFD_CLOEXEC above any target), then down to 2, 3, …: the new
     * monitor hands every descriptor above 2 on to its berth-init, so nothing else may stay
     * open across the exec (this monitor's own descriptors are all close-on-exec). */
    int hi[8];
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (size_t i = 0; i < nfds && i < 8; i++)
      if ((hi[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 64)) < 0) _exit(127);
    for (size_t i = 0; i < nfds && i < 8; i++)
      if (dup2(hi[i], (int)(2 + i)) < 0) _exit(127);
    char *envp[] = { NULL };
    execve("/proc/self/exe", argv, envp);
    _exit(127); /* the requester sees EOF on its ready descriptor */
  }
  if (pid < 0) warn(errno, "start a monitor for an exec");
  for (size_t i = 0; i < nfds; i++) close(fds[i]);
}

void child_init(pid_t pid, const char *path) {
  init_pid = pid;
  pid_file = path;
}

static pid_t read_pid_file(void) {
  char b[32];
  int fd = open(pid_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, b, sizeof b - 1);
  close(fd);
  if (n <= 0) return -1;
  long v = 0;
  for (ssize_t i = 0; i < n && b[i] >= '0' && b[i] <= '9'; i++) v = v * 10 + (b[i] - '0');
  return v > 0 && v < 1 << 30 ? (pid_t)v : -1;
}

static void set_status(int st) {
  status = st;
  have_status = 1;
  finished_at = now_ns();
}

static void on_init_exit(int st) {
  pid_t c = read_pid_file();
  if (c <= 0 || c == init_pid) return set_status(st); /* no CLONE: berth-init was the container */
  for (unsigned i = 0; i < nearly && i < 8; i++)
    if (early[i].pid == c) return set_status(early[i].st);
  int cst;
  pid_t r = waitpid(c, &cst, WNOHANG);
  if (r == c) set_status(cst);
  else if (r == 0) container_pid = c; /* running, now our child: wait for it */
  else set_status(st);                /* not our child: berth-init waited for it (WAIT_CHILD) */
}

int child_reap(void) {
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p < 0 && errno == EINTR) continue;
    if (p <= 0) break;
    if (p == init_pid && !init_done) {
      init_done = 1;
      on_init_exit(st);
    } else if (container_pid && p == container_pid) {
      set_status(st);
    } else if (!init_done) {
      early[nearly++ % 8].pid = p;
      early[(nearly - 1) % 8].st = st;
    } /* else an orphan of the container: reaped, nothing more */
  }
  return have_status;
}

const char *child_exit_line(void) {
  return WIFSIGNALED(status)
      ? msg("signaled ", num(WTERMSIG(status)), " ", num(finished_at), "\n", NULL)
      : msg("exited ", num(WEXITSTATUS(status)), " ", num(finished_at), "\n", NULL);
}

void child_write_exit_file(const char *path) {
  const char *line = child_exit_line();
  char b[96];
  size_t l = strlen(line);
  memcpy(b, line, l);
  if (write_file_atomic(path, b, l) < 0) warn(errno, "write the exit file `", path, "`");
}
