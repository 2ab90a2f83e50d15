/* The sync protocol ops (SYNC, READY, WAIT_FIFO) and the fd registers (OPEN, CONNECT). */
#include "init.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int regs[NREGS] = { -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1 };

void set_reg(int reg, int fd) {
  if (regs[reg] >= 0) close(regs[reg]);
  regs[reg] = fd;
}

/* Writes data to the descriptor in a register (a file opened before SETNS_PID) and closes it. */
void op_write_reg(const struct op *o) {
  int reg = (int)arg_int(o, 0);
  if (regs[reg] < 0 || write_all(regs[reg], o->args[1].p, o->args[1].len) < 0) fail(regs[reg] < 0 ? EBADF : errno, "write register ", num(reg));
  set_reg(reg, -1);
}

void op_open(const struct op *o) {
  int fd = open(arg_str(o, 0), (int)arg_int(o, 1) | O_CLOEXEC, 0644); /* the mode, for O_CREAT */
  if (fd < 0) fail(errno, "open `", arg_str(o, 0), "`");
  set_reg((int)arg_int(o, 2), fd);
}

int unix_connect(const char *path) {
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen(path) >= sizeof sa.sun_path) return errno = ENAMETOOLONG, -1;
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return errno = e, -1;
  }
  return fd;
}

void op_connect(const struct op *o) {
  int fd = unix_connect(arg_str(o, 0));
  if (fd < 0) fail(errno, "connect to `", arg_str(o, 0), "`");
  set_reg((int)arg_int(o, 1), fd);
}

void op_wait_fifo(const struct op *o) {
  int reg = regs[arg_int(o, 0)];
  if (reg < 0) fail(EBADF, "wait for start: register ", num(arg_int(o, 0)));
  const char *path = msg("/proc/self/fd/", num(reg), NULL);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write_all(fd, "0", 1) < 0) fail(errno, "wait for start on `", path, "`");
  close(fd);
}

/* The fifo by name from a directory opened earlier: no /proc needed, so it also works
 * where /proc belongs to another pid namespace (a joined mount namespace). */
void op_wait_fifo_at(const struct op *o) {
  int dir = regs[arg_int(o, 0)];
  const char *name = arg_str(o, 1);
  if (dir < 0) fail(EBADF, "wait for start: register ", num(arg_int(o, 0)));
  int fd = openat(dir, name, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write_all(fd, "0", 1) < 0) fail(errno, "wait for start on `", name, "`");
  close(fd);
}

void op_sync(const struct op *o) {
  const char *name = arg_str(o, 0);
  char line[4200];
  size_t n = 0;
  strncpy(line, msg("sync ", name, "\n", NULL), sizeof line - 1);
  line[sizeof line - 1] = 0;
  sync_send(msg("sync `", name, "`", NULL), line);
  for (;;) {
    ssize_t r = read(sync_fd, line + n, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(errno, "sync `", name, "`");
    if (r == 0) fail(0, "sync `", name, "`: the runtime closed the sync fd");
    if (line[n] == '\n' || ++n == 63) break;
  }
  line[n] = 0;
  if (strcmp(line, "go")) fail(0, "sync `", name, "`: the runtime answered `", line, "`");
}

void op_ready(const struct op *o) {
  (void)o;
  sync_send("report ready", "ready\n");
  close(sync_fd);
  sync_fd = -1;
}
