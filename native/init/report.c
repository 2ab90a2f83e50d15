/* Messages, failures and the sync fd (docs/init-program.md, "Sync protocol").
 * No stdio: berth-init is static and must stay small. */
#include "init.h"
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

int sync_fd = -1;
pid_t unjoined_child;

void fail_code(int code, int err, const char *m) {
  if (unjoined_child > 0) kill(unjoined_child, SIGKILL);
  char line[4200];
  size_t n = 0, l = strlen(m);
  const char *e = err ? strerrordesc_np(err) : NULL;
  if (!e && err) e = "Unknown error";
  memcpy(line, "error ", 6);
  n = 6;
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
  if (sync_fd >= 0) write_all(sync_fd, line, n);
  write_all(2, "berth-init: ", 12);
  write_all(2, line + 6, n - 6);
  _exit(code);
}

void sync_send(const char *what, const char *line) {
  if (sync_fd < 0) fail(EBADF, what);
  if (write_all(sync_fd, line, strlen(line)) < 0) fail(errno, what);
}
