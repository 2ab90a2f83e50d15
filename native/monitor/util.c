/* Messages, failures, atomic files and time. No stdio: the monitor stays small. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* rename */
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

int ready_fd = -1;
int ready_exit;

int sigchld_fd(void) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) fail(errno, "signalfd");
  return fd;
}

void report_ready(long init_pid) {
  if (ready_fd < 0) return;
  const char *ok = msg("ok ", num(getpid()), " ", num(init_pid), "\n", NULL);
  write_all(ready_fd, ok, strlen(ok));
  if (ready_exit) return;
  close(ready_fd);
  ready_fd = -1;
}

void report_exit(const char *line) {
  if (ready_fd < 0) return;
  write_all(ready_fd, line, strlen(line));
  close(ready_fd);
  ready_fd = -1;
}
void warn_msg(int err, const char *m) {
  char line[4200];
  size_t n = 6, l = strlen(m);
  const char *e = err ? strerrordesc_np(err) : NULL;
  if (!e && err) e = "Unknown error";
  memcpy(line, "error ", 6);
  if (l > 4000) l = 4000;
  memcpy(line + n, m, l);
  n += l;
  if (e) {
    memcpy(line + n, ": ", 2);
    memcpy(line + n + 2, e, strlen(e));
    n += 2 + strlen(e);
  }
  for (size_t i = 6; i < n; i++)
    if (line[i] == '\n') line[i] = ' ';
  line[n++] = '\n';
  if (ready_fd >= 0) write_all(ready_fd, line, n);
  write_all(2, "berth-monitor: ", 15);
  write_all(2, line + 6, n - 6);
}

void fail_msg(int err, const char *m) {
  warn_msg(err, m);
  _exit(1);
}

int write_file_atomic(const char *path, const char *data, size_t len) {
  char tmp[4200];
  size_t l = strlen(path);
  if (l >= sizeof tmp - 5) return errno = ENAMETOOLONG, -1;
  memcpy(tmp, path, l);
  memcpy(tmp + l, ".tmp", 5);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  if (write_all(fd, data, len) < 0) {
    int e = errno;
    close(fd);
    unlink(tmp);
    return errno = e, -1;
  }
  close(fd);
  if (rename(tmp, path) < 0) {
    int e = errno;
    unlink(tmp);
    return errno = e, -1;
  }
  return 0;
}

int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

