/* Process ops: namespaces, CLONE and the parent's CHILD_* ops, RELEASE, WAIT_CHILD, and the
 * per-process attributes (hostname, session, rlimits, umask, cwd, keyring, …). */
#include "init.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h> /* rename */
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t child_pid, host_pid;
static int release_fd = -1;
/* PIDFILE_DIR's directory: where a relative CHILD_PIDFILE name goes, opened while the
 * host's mount namespace was still ours. */
static int pidfile_dir = -1;

static int write_file(const char *path, const char *data, size_t len, int oflags, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CLOEXEC | oflags, mode);
  if (fd < 0) return -1;
  int r = write_all(fd, data, len), e = errno;
  if (close(fd) < 0 && r == 0) return -1;
  errno = e;
  return r;
}

void op_setns(const struct op *o) {
  int fd = open(arg_str(o, 0), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, (int)arg_int(o, 1)) < 0) fail(errno, "setns `", arg_str(o, 0), "`");
  close(fd);
}

void op_setns_pid(const struct op *o) {
  int fd = (int)syscall(SYS_pidfd_open, (pid_t)arg_int(o, 0), 0);
  if (fd < 0 || setns(fd, (int)arg_int(o, 1)) < 0) fail(errno, "setns to the namespaces of pid ", num(arg_int(o, 0)));
  close(fd);
}

void op_unshare(const struct op *o) {
  if (unshare((int)arg_int(o, 0)) < 0) fail(errno, "unshare ", num(arg_int(o, 0)));
}

void op_write_file(const struct op *o) {
  if (write_file(arg_str(o, 0), o->args[1].p, o->args[1].len, (int)arg_int(o, 2), (mode_t)arg_int(o, 3)) < 0)
    fail(errno, "write `", arg_str(o, 0), "`");
}

static int read_full(int fd, void *buf, size_t len) {
  size_t n = 0;
  while (n < len) {
    ssize_t r = read(fd, (char *)buf + n, len - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    n += (size_t)r;
  }
  return 0;
}

static int has_op(const struct op *ops, size_t from, size_t to, uint16_t code) {
  for (size_t j = from; j <= to; j++)
    if (ops[j].code == code) return 1;
  return 0;
}

/* With CHILD_JOINED in the parent ops the RELEASE socketpair stays open after RELEASE, for
 * the second handshake (CHILD_JOINED → WAIT_JOINED); its child end is join_fd. */
static int keep_release_fd, join_fd = -1, own_pdeathsig;

/* CLONE_INTO_CGROUP: the cgroup v2 directory the next CLONE puts its child in. */
static int into_fd = -1;
static const char *into_path;

void op_clone_into_cgroup(const struct op *o) {
  into_path = arg_str(o, 0);
  into_fd = open(into_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (into_fd < 0) fail(errno, "open cgroup `", into_path, "`");
}

struct clone3_args { /* struct clone_args of linux/sched.h (v2, 5.7+) */
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#define CLONE_INTO_CGROUP_FLAG 0x200000000ULL

/* fork-like (no new stack: the child returns here on a copy of ours), into the cgroup of
 * CLONE_INTO_CGROUP when one was given: born there, no migration. A kernel without clone3
 * or CLONE_INTO_CGROUP gets a plain clone, and the parent moves the child at once, before
 * the child can run on (it waits for RELEASE). */
static long clone_child(uint64_t flags) {
  if (into_fd < 0) return syscall(SYS_clone, (unsigned long)flags | SIGCHLD, 0, NULL, NULL, 0);
  struct clone3_args a = { .flags = flags | CLONE_INTO_CGROUP_FLAG, .exit_signal = SIGCHLD, .cgroup = (uint64_t)into_fd };
  long r = syscall(SYS_clone3, &a, sizeof a);
  int fallback = r < 0 && (errno == ENOSYS || errno == E2BIG || errno == EINVAL);
  if (fallback) r = syscall(SYS_clone, (unsigned long)flags | SIGCHLD, 0, NULL, NULL, 0);
  if (r > 0 && fallback) {
    /* Through the directory's descriptor: a SETNS_PID since CLONE_INTO_CGROUP may have left
     * the host's mount namespace, where `into_path` is. */
    const char *pid = num(r);
    int f = openat(into_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (f < 0 || write(f, pid, strlen(pid)) != (ssize_t)strlen(pid)) {
      int e = errno;
      kill((pid_t)r, SIGKILL);
      fail(e, "add pid ", pid, " to cgroup `", into_path, "/cgroup.procs`");
    }
    close(f);
  }
  if (r != 0) {
    int e = errno;
    close(into_fd);
    into_fd = -1;
    errno = e;
  }
  return r;
}

size_t op_clone(const struct op *ops, size_t i) {
  const struct op *o = &ops[i];
  size_t parent_ops = (size_t)arg_int(o, 1);
  int join = has_op(ops, i + 1, i + parent_ops, OP_CHILD_JOINED);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) fail(errno, "clone: socketpair");
  long r = clone_child((uint64_t)arg_int(o, 0));
  if (r < 0) fail(errno, "clone with flags ", num(arg_int(o, 0)));
  if (r == 0 && into_fd >= 0) {
    close(into_fd);
    into_fd = -1;
  }
  if (r == 0 && pidfile_dir >= 0) {
    close(pidfile_dir); /* the container's process keeps no handle on the host's runtime dir */
    pidfile_dir = -1;
  }
  if (r > 0) {
    close(sv[1]);
    release_fd = sv[0];
    keep_release_fd = join;
    child_pid = (pid_t)r;
    return i;
  }
  close(sv[0]);
  child_pid = 0;
  /* Die with the parent until RELEASE (until WAIT_JOINED when the parent still moves us
   * into our cgroups after it); EOF covers a parent that died before the prctl. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) _exit(1);
  int64_t pid;
  if (read_full(sv[1], &pid, sizeof pid) < 0) _exit(1);
  host_pid = (pid_t)pid;
  if ((!join && prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0) || write_all(sv[1], "k", 1) < 0) _exit(1);
  if (join) {
    join_fd = sv[1];
    own_pdeathsig = 1;
  } else {
    close(sv[1]);
  }
  return i + parent_ops;
}

/* The signals WAIT_CHILD passes on to the child, and SIGCHLD. */
static void forwarded_set(sigset_t *set) {
  static const int fwd[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT };
  sigemptyset(set);
  sigaddset(set, SIGCHLD);
  for (size_t k = 0; k < sizeof fwd / sizeof fwd[0]; k++) sigaddset(set, fwd[k]);
}

void op_release(const struct op *o) {
  (void)o;
  int64_t pid = child_pid;
  char ack;
  sigset_t set;
  /* Held from here, not from WAIT_CHILD: a signal sent once the released child has shown
   * life (say, printed that it is ready) must reach it, not kill us on the way. */
  forwarded_set(&set);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) fail(errno, "block signals");
  if (write_all(release_fd, &pid, sizeof pid) < 0) fail(errno, "release child ", num(child_pid));
  if (read_full(release_fd, &ack, 1) < 0) fail(ESRCH, "release child ", num(child_pid));
  if (keep_release_fd) {
    unjoined_child = child_pid;
    return;
  }
  close(release_fd);
  release_fd = -1;
}

void op_child_joined(const struct op *o) {
  (void)o;
  char ack;
  /* A child that died meanwhile has reported why on the sync fd: an error here, no SIGPIPE. */
  if (send(release_fd, "j", 1, MSG_NOSIGNAL) != 1 || read_full(release_fd, &ack, 1) < 0)
    fail(ESRCH, "tell child ", num(child_pid), " it is in its cgroups");
  unjoined_child = 0;
  close(release_fd);
  release_fd = -1;
}

void op_wait_joined(const struct op *o) {
  (void)o;
  char c;
  /* EOF: the parent failed (it reports why on the sync fd) or died. Leave quietly. */
  if (read_full(join_fd, &c, 1) < 0) _exit(1);
  if ((own_pdeathsig && prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0) || write_all(join_fd, "k", 1) < 0) _exit(1);
  own_pdeathsig = 0;
  close(join_fd);
  join_fd = -1;
}

void op_child_write(const struct op *o) {
  const char *path = msg("/proc/", num(child_pid), "/", arg_str(o, 0), NULL);
  char p[4096];
  strncpy(p, path, sizeof p - 1);
  p[sizeof p - 1] = 0;
  if (write_file(p, o->args[1].p, o->args[1].len, 0, 0) < 0) fail(errno, "write `", p, "`");
}

void op_child_cgroup(const struct op *o) {
  const char *pid = num(child_pid);
  if (write_file(arg_str(o, 0), pid, strlen(pid), 0, 0) < 0)
    fail(errno, "add pid ", pid, " to cgroup `", arg_str(o, 0), "`");
}

void op_child_report(const struct op *o) {
  (void)o;
  sync_send("report the child's pid", msg("pid ", num(child_pid), "\n", NULL));
}

void op_pidfile_dir(const struct op *o) {
  if (pidfile_dir >= 0) close(pidfile_dir);
  pidfile_dir = open(arg_str(o, 0), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (pidfile_dir < 0) fail(errno, "open the pid file's directory `", arg_str(o, 0), "`");
}

void op_child_pidfile(const struct op *o) {
  const char *path = arg_str(o, 0), *pid = num(child_pid);
  int dir = path[0] != '/' && pidfile_dir >= 0 ? pidfile_dir : AT_FDCWD;
  char tmp[4096];
  strncpy(tmp, msg(path, ".", num(getpid()), ".tmp", NULL), sizeof tmp - 1);
  tmp[sizeof tmp - 1] = 0;
  int fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  int r = fd < 0 ? -1 : write_all(fd, pid, strlen(pid));
  int e = errno;
  if (fd >= 0 && close(fd) < 0 && r == 0) r = -1, e = errno;
  if (r < 0 || renameat(dir, tmp, dir, path) < 0) {
    if (r == 0) e = errno;
    unlinkat(dir, tmp, 0);
    fail(e, "write pid file `", path, "`");
  }
}

/* The pid into a file OPENed ahead (a launch prepared ahead): no file made or renamed now. Its
 * reader (the monitor) reads it only after berth-init has exited. */
void op_child_pid_reg(const struct op *o) {
  int reg = (int)arg_int(o, 0);
  const char *pid = num(child_pid);
  if (regs[reg] < 0 || write_all(regs[reg], pid, strlen(pid)) < 0) fail(regs[reg] < 0 ? EBADF : errno, "write pid ", pid, " to register ", num(reg));
  set_reg(reg, -1);
}

void op_wait_child(const struct op *o) {
  (void)o;
  sigset_t set;
  forwarded_set(&set);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) fail(errno, "block signals");
  if (sync_fd >= 0) close(sync_fd); /* the child owns the conversation from here */
  sync_fd = -1;
  for (;;) {
    int st;
    pid_t w = waitpid(child_pid, &st, WNOHANG);
    if (w == child_pid) _exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
    if (w < 0 && errno != EINTR) fail(errno, "wait for pid ", num(child_pid));
    int sig = sigwaitinfo(&set, NULL);
    if (sig > 0 && sig != SIGCHLD) kill(child_pid, sig);
  }
}

void op_exit(const struct op *o) { _exit((int)arg_int(o, 0)); }

void op_sethostname(const struct op *o) {
  if (sethostname(arg_str(o, 0), strlen(arg_str(o, 0))) < 0) fail(errno, "sethostname `", arg_str(o, 0), "`");
}

void op_setdomainname(const struct op *o) {
  if (setdomainname(arg_str(o, 0), strlen(arg_str(o, 0))) < 0) fail(errno, "setdomainname `", arg_str(o, 0), "`");
}

/* Sets IFF_UP on an interface of the current network namespace (the loopback of a new one). */
void op_link_up(const struct op *o) {
  const char *name = arg_str(o, 0);
  struct ifreq ifr;
  if (strlen(name) >= IFNAMSIZ) fail(ENAMETOOLONG, "interface `", name, "`");
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strlen(name));
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(errno, "socket to bring up `", name, "`");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) fail(errno, "flags of interface `", name, "`");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) fail(errno, "bring up interface `", name, "`");
  close(fd);
}

void op_setsid(const struct op *o) {
  (void)o;
  if (setsid() < 0) fail(errno, "setsid");
}

void op_pdeathsig(const struct op *o) {
  own_pdeathsig = 0; /* the program's own: WAIT_JOINED leaves it */
  if (prctl(PR_SET_PDEATHSIG, (unsigned long)arg_int(o, 0), 0, 0, 0) < 0) fail(errno, "set parent death signal ", num(arg_int(o, 0)));
}

void op_personality(const struct op *o) {
  if (personality((unsigned long)arg_int(o, 0)) < 0) fail(errno, "personality ", num(arg_int(o, 0)));
}

void op_join_keyring(const struct op *o) {
  const char *name = arg_str(o, 0);
  if (syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, *name ? name : NULL) < 0)
    fail(errno, "join session keyring `", name, "`");
}

void op_umask(const struct op *o) { umask((mode_t)arg_int(o, 0)); }

void op_chdir(const struct op *o) {
  char cwd[4096];
  if (chdir(arg_str(o, 0)) < 0) fail(errno, "chdir `", arg_str(o, 0), "`");
  /* the raw syscall: glibc hides the "(unreachable)" prefix */
  if (syscall(SYS_getcwd, cwd, sizeof cwd) < 0) fail(errno, "chdir `", arg_str(o, 0), "`: getcwd");
  if (cwd[0] != '/') fail(EXDEV, "chdir `", arg_str(o, 0), "`: outside the root");
}

void op_setrlimit(const struct op *o) {
  int64_t soft = arg_int(o, 1), hard = arg_int(o, 2);
  struct rlimit rl = { soft < 0 ? RLIM_INFINITY : (rlim_t)soft, hard < 0 ? RLIM_INFINITY : (rlim_t)hard };
  if (prlimit(0, (int)arg_int(o, 0), &rl, NULL) < 0) fail(errno, "setrlimit ", num(arg_int(o, 0)));
}
