/* berth-monitor: the per-container monitor (docs/monitor.md).
 *
 *   berth-monitor --init PATH --program PATH --pid-file FILE --exit-file FILE
 *                 [--sync-fd N] [--ready-fd N] [--log FILE [--log-max-size BYTES]
 *                 [--log-max-files N]] [--attach-socket PATH] [--attach-fd N]
 *                 [--attach-stall-ms MS] [--console-socket PATH] [--stdin] [--foreground]
 *                 [--ready-exit]
 *
 * It sets up the log and the sockets, forks into the background (a new session, a child
 * subreaper), starts berth-init with every descriptor it inherited above 2 (the sync fd,
 * a program pipe, preserved fds) at the same numbers, answers `ok MONITOR_PID INIT_PID` or
 * `error MESSAGE` on the ready fd, then copies output until the container has exited.
 * --attach-fd: a connected socket that is an attach client from the start (its starter
 * reads all the output without connecting, and without a sync point in the program).
 * --attach-stall-ms: how long a client that takes no output may hold the container's
 * output back before it is disconnected (default 60000; attach.c).
 * --foreground: no fork into the background, for a monitor whose parent is a monitor
 * (an exec's, started by the container's: that parent is a subreaper and waits for it).
 * --ready-exit: the ready fd stays open after `ok` and gets the exit file's line when the
 * container has exited, before the attach clients are closed and the exit file is written:
 * the starter learns the status without waiting for a file (an exec's client asks for it
 * as soon as its stream ends).
 *
 *   berth-monitor --spawner SOCKET [--ready-fd N]
 *
 * starts no container: it serves MSG_SPAWN on SOCKET for berthd (spawner.c). */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DRAIN_MAX (1 << 20) /* after the exit, read at most this much more output */
#define DRAIN_WAIT_MS 5000  /* and wait at most this long for slow clients meanwhile */

static int out_fd[3] = { -1, -1, -1 }; /* stdout pipe, stderr pipe, pty master */
static const int out_stream[3] = { STREAM_STDOUT, STREAM_STDERR, STREAM_STDOUT };
static int master_done;
static char chunk[CHUNK];

static void usage(void) {
  fail(0, "usage: berth-monitor --init PATH --program PATH --pid-file FILE --exit-file FILE "
          "[--sync-fd N] [--ready-fd N] [--log FILE [--log-max-size BYTES] [--log-max-files N]] "
          "[--attach-socket PATH] [--attach-fd N] [--attach-stall-ms MS] [--console-socket PATH] [--stdin] [--foreground] "
          "[--ready-exit]; "
          "or: berth-monitor --spawner SOCKET [--ready-fd N]");
}

static long long parse_num(const char *flag, const char *s, long long max) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || errno || v < 0 || v > max) fail(EINVAL, flag, " `", s, "`");
  return v;
}

static const char *abs_path(const char *flag, const char *s) {
  if (s[0] != '/') fail(EINVAL, flag, " `", s, "`: not an absolute path");
  return s;
}

/* The descriptors above 2 the monitor was started with, but for `except` and `except2`. */
static size_t inherited_fds(int *out, size_t max, int except, int except2) {
  struct dirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
  };
  char buf[1024] __attribute__((aligned(8)));
  size_t n = 0;
  int d = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) fail(errno, "open `/proc/self/fd`");
  for (;;) {
    long r = syscall(SYS_getdents64, d, buf, sizeof buf);
    if (r < 0) fail(errno, "read `/proc/self/fd`");
    if (r == 0) break;
    for (long off = 0; off < r;) {
      struct dirent64 *e = (struct dirent64 *)(buf + off);
      off += e->reclen;
      if (e->name[0] < '0' || e->name[0] > '9') continue;
      int fd = atoi(e->name);
      if (fd <= 2 || fd == d || fd == except || fd == except2) continue;
      if (n == max) fail(EMFILE, "more than ", num((long long)max), " inherited descriptors");
      out[n++] = fd;
    }
  }
  close(d);
  return n;
}

static void make_pipe(int fds[2], int nonblock_end) {
  if (pipe2(fds, O_CLOEXEC) < 0) fail(errno, "pipe");
  if (fcntl(fds[nonblock_end], F_SETFL, O_NONBLOCK) < 0) fail(errno, "pipe");
}

/* One read of an output descriptor: to the log and to the clients. Returns the bytes read,
 * 0 at EOF or error (the descriptor is then done), -1 when nothing is available now. */
static ssize_t read_output(int k) {
  ssize_t n = read(out_fd[k], chunk, sizeof chunk);
  if (n > 0) {
    log_output(out_stream[k], chunk, (size_t)n, now_ns());
    attach_broadcast(out_stream[k], chunk, (size_t)n);
    return n;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return -1;
  /* EOF, or EIO on the pty master once no process holds the terminal */
  if (k == 2) master_done = 1; /* attach.c owns the master: it is also stdin */
  else close(out_fd[k]);
  out_fd[k] = -1;
  return 0;
}

int main(int argc, char **argv) {
  const char *init = NULL, *program = NULL, *pid_file = NULL, *exit_file = NULL, *sync_fd = NULL;
  const char *log = NULL, *attach = NULL, *console = NULL, *spawner = NULL;
  long long log_max_size = 0, log_max_files = 1;
  int want_stdin = 0, attach_fd = -1, foreground = 0;
  char sync_arg[24];

  /* The ready fd first, so that every other complaint reaches the caller through it. */
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "--ready-fd")) continue;
    ready_fd = (int)parse_num("--ready-fd", argv[i + 1], 1 << 20);
    if (fcntl(ready_fd, F_SETFD, FD_CLOEXEC) < 0) {
      int e = errno;
      ready_fd = -1;
      fail(e, "ready fd `", argv[i + 1], "`");
    }
  }
  for (int i = 1; i < argc; i++) {
    const char *f = argv[i];
    if (!strcmp(f, "--stdin")) {
      want_stdin = 1;
      continue;
    }
    if (!strcmp(f, "--foreground")) {
      foreground = 1;
      continue;
    }
    if (!strcmp(f, "--ready-exit")) {
      ready_exit = 1;
      continue;
    }
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(f, "--init")) init = v;
    else if (!strcmp(f, "--program")) program = v;
    else if (!strcmp(f, "--pid-file")) pid_file = abs_path(f, v);
    else if (!strcmp(f, "--exit-file")) exit_file = abs_path(f, v);
    else if (!strcmp(f, "--sync-fd")) sync_fd = strcpy(sync_arg, num(parse_num(f, v, 1 << 20)));
    else if (!strcmp(f, "--ready-fd")) continue; /* taken first, below */
    else if (!strcmp(f, "--log")) log = abs_path(f, v);
    else if (!strcmp(f, "--log-max-size")) log_max_size = parse_num(f, v, 1LL << 62);
    else if (!strcmp(f, "--log-max-files")) log_max_files = parse_num(f, v, 1000);
    else if (!strcmp(f, "--attach-socket")) attach = abs_path(f, v);
    else if (!strcmp(f, "--attach-fd")) attach_fd = (int)parse_num(f, v, 1 << 20);
    else if (!strcmp(f, "--attach-stall-ms")) attach_stall_ms = parse_num(f, v, 1LL << 40);
    else if (!strcmp(f, "--console-socket")) console = abs_path(f, v);
    else if (!strcmp(f, "--spawner")) spawner = abs_path(f, v);
    else usage();
  }
  if (spawner) return spawner_main(spawner);
  if (!init || !program || !pid_file || !exit_file) usage();

  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  /* An exec's monitor is started as /proc/self/exe (spawn_monitor): keep the usual name. */
  prctl(PR_SET_NAME, "berth-monitor", 0, 0, 0);
  int pass[MAX_PASS_FDS];
  if (attach_fd >= 0 && (attach_fd <= 2 || attach_fd == ready_fd || fcntl(attach_fd, F_SETFD, FD_CLOEXEC) < 0))
    fail(EBADF, "--attach-fd `", num(attach_fd), "`");
  size_t npass = inherited_fds(pass, MAX_PASS_FDS, ready_fd, attach_fd);
  /* fds 0 and 1 are /dev/null; fd 2 stays as given (where the monitor's own errors go) */
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (nul < 0) fail(errno, "open `/dev/null`");
  dup2(nul, 0);
  dup2(nul, 1);
  if (fcntl(2, F_GETFD) < 0) dup2(nul, 2);
  if (nul > 2) close(nul);

  if (log) log_open(log, log_max_size, (int)log_max_files);
  int outp[2], errp[2], inp[2] = { -1, -1 };
  make_pipe(outp, 0);
  make_pipe(errp, 0);
  if (console) console_listen(console);
  else if (want_stdin) make_pipe(inp, 1);
  if (attach) attach_listen(attach);
  if (attach_fd >= 0) attach_adopt(attach_fd);

  int sigfd = sigchld_fd();

  /* Into the background: the caller's child exits now, the monitor lives on in a session
   * of its own and outlives whoever started it. */
  pid_t bg = foreground ? 0 : fork();
  if (bg < 0) fail(errno, "fork");
  if (bg > 0) _exit(0);
  setsid();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) fail(errno, "become a child subreaper");
  if (chdir("/") < 0) fail(errno, "chdir `/`");

  struct spawn_opts so = {
    .init = init, .program = program, .sync_fd = sync_fd, .pid_file = pid_file,
    .stdin_fd = inp[0] >= 0 ? inp[0] : 0, .stdout_fd = outp[1], .stderr_fd = errp[1],
    .pass_fds = pass, .npass = npass,
  };
  pid_t init_pid = spawn_init(&so);
  if (init_pid < 0) {
    int e = errno;
    attach_close();
    unlink(exit_file);
    fail(e, "start berth-init `", init, "`");
  }
  for (size_t i = 0; i < npass; i++) close(pass[i]);
  close(outp[1]);
  close(errp[1]);
  if (inp[0] >= 0) close(inp[0]);
  if (want_stdin && !console) attach_set_stdin(inp[1]);
  else if (want_stdin) attach_set_stdin(-1); /* the pty master, once it arrives */
  out_fd[0] = outp[0];
  out_fd[1] = errp[0];
  child_init(init_pid, pid_file);

  report_ready(init_pid);

  for (;;) {
    struct pollfd p[MAX_CLIENTS + 8];
    size_t n = 0;
    p[n++] = (struct pollfd){ sigfd, POLLIN, 0 };
    if (out_fd[2] < 0 && !master_done) out_fd[2] = attach_console_master();
    int idx[3] = { -1, -1, -1 };
    /* Backpressure: no output is read while a client has some still queued, or holds it
     * for a hand-over; the pipe or pty fills and the container's writes wait, nothing is
     * dropped. */
    int hold = attach_backlogged() || attach_output_held();
    for (int k = 0; k < 3; k++)
      if (out_fd[k] >= 0 && !hold) idx[k] = (int)n, p[n++] = (struct pollfd){ out_fd[k], POLLIN, 0 };
    size_t base = n;
    n += attach_poll_fds(p + n);
    if (poll(p, n, hold ? attach_timeout() : -1) < 0) {
      if (errno == EINTR) continue;
      fail(errno, "poll");
    }
    /* Attach first: a client that connected before the container wrote (berthd connects at
     * the init program's sync point, before the exec) is accepted before that output is read
     * and broadcast, even when the container has already exited by now. */
    attach_handle(p + base, n - base);
    if (hold) attach_drop_stalled(-1), attach_expire_hold();
    if (p[0].revents) {
      struct signalfd_siginfo si;
      while (read(sigfd, &si, sizeof si) > 0) {}
      if (child_reap()) break;
    }
    /* A hold that came in this round stops the output it saw (a hand-over is coming). */
    for (int k = 0; k < 3; k++)
      if (idx[k] >= 0 && p[idx[k]].revents && out_fd[k] >= 0 && !attach_output_held()) read_output(k);
  }

  /* The container has exited: what it wrote is in the pipes or the pty; take that (up to
   * a limit, in case orphans keep writing), then record the exit. */
  if (out_fd[2] < 0 && !master_done) out_fd[2] = attach_console_master();
  /* Clients still get all of it while they keep reading; one that does not delays the exit
   * record DRAIN_WAIT_MS at most, then is disconnected (the log has everything). */
  attach_wait_released(); /* the output goes where the holder hands it */
  size_t drained = 0;
  int64_t deadline = attach_now_ms() + DRAIN_WAIT_MS;
  for (int k = 0; k < 3; k++) {
    ssize_t r;
    while (out_fd[k] >= 0 && drained < DRAIN_MAX && (attach_wait_flushed(deadline), (r = read_output(k)) > 0)) drained += (size_t)r;
  }
  attach_wait_flushed(deadline);
  log_close();
  if (ready_exit) {
    report_exit(child_exit_line());
    attach_close();
    child_write_exit_file(exit_file);
  } else {
    /* an attach client that sees the end finds the exit file */
    child_write_exit_file(exit_file);
    attach_close();
  }
  return 0;
}
