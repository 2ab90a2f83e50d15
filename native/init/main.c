/* berth-init PROGRAM [SYNC_FD]: executes an init program (docs/init-program.md). */
#include "init.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

const op_fn op_table[OP_MAX + 1] = {
  [OP_SETNS] = op_setns, [OP_SETNS_PID] = op_setns_pid, [OP_UNSHARE] = op_unshare,
  [OP_WRITE_FILE] = op_write_file, [OP_CHILD_WRITE] = op_child_write,
  [OP_CHILD_CGROUP] = op_child_cgroup, [OP_CHILD_REPORT] = op_child_report,
  [OP_CHILD_PIDFILE] = op_child_pidfile, [OP_RELEASE] = op_release,
  [OP_WAIT_CHILD] = op_wait_child, [OP_EXIT] = op_exit, [OP_SETHOSTNAME] = op_sethostname,
  [OP_SETDOMAINNAME] = op_setdomainname, [OP_MOUNT] = op_mount, [OP_UMOUNT] = op_umount,
  [OP_MKDIR] = op_mkdir, [OP_MKNOD] = op_mknod, [OP_SYMLINK] = op_symlink,
  [OP_TOUCH] = op_touch, [OP_PIVOT_ROOT] = op_pivot_root, [OP_MOVE_ROOT] = op_move_root,
  [OP_MASK_PATH] = op_mask_path, [OP_READONLY_PATH] = op_readonly_path,
  [OP_CHDIR] = op_chdir, [OP_SETRLIMIT] = op_setrlimit, [OP_SETGROUPS] = op_setgroups,
  [OP_SETRESGID] = op_setresgid, [OP_SETRESUID] = op_setresuid, [OP_KEEPCAPS] = op_keepcaps,
  [OP_CAP_BOUNDING] = op_cap_bounding, [OP_CAPSET] = op_capset,
  [OP_CAP_AMBIENT] = op_cap_ambient, [OP_NO_NEW_PRIVS] = op_no_new_privs,
  [OP_SECCOMP] = op_seccomp, [OP_UMASK] = op_umask, [OP_CLOSE_FDS] = op_close_fds,
  [OP_CONNECT] = op_connect, [OP_OPEN] = op_open, [OP_CONSOLE] = op_console,
  [OP_WAIT_FIFO] = op_wait_fifo, [OP_SYNC] = op_sync, [OP_READY] = op_ready,
  [OP_EXEC] = op_exec, [OP_RUN_HOOK] = op_run_hook, [OP_SETSID] = op_setsid,
  [OP_PDEATHSIG] = op_pdeathsig, [OP_PERSONALITY] = op_personality, [OP_CHOWN] = op_chown,
  [OP_JOIN_KEYRING] = op_join_keyring, [OP_FCHOWN] = op_fchown, [OP_WAIT_FIFO_AT] = op_wait_fifo_at,
  [OP_LINK_UP] = op_link_up, [OP_CLONE_INTO_CGROUP] = op_clone_into_cgroup, [OP_CHILD_JOINED] = op_child_joined, [OP_WAIT_JOINED] = op_wait_joined,
  [OP_PIDFILE_DIR] = op_pidfile_dir, [OP_WRITE_REG] = op_write_reg, [OP_CHILD_PID_REG] = op_child_pid_reg,
};

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) fail(0, "usage: berth-init PROGRAM [SYNC_FD]");
  if (argc == 3) {
    char *end;
    long fd = strtol(argv[2], &end, 10);
    if (*argv[2] == 0 || *end || fd < -1 || fd > 1 << 20) fail(EINVAL, "sync fd `", argv[2], "`");
    sync_fd = (int)fd;
  }
  ensure_sealed_exe(argv);
  prctl(PR_SET_NAME, "berth-init", 0, 0, 0); /* not "memfd:berth-ini" in ps */
  /* Non-dumpable until the final execve: /proc/<pid>/{exe,fd,…} stay out of reach. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail(errno, "prctl PR_SET_DUMPABLE");
  if (sync_fd >= 0 && fcntl(sync_fd, F_SETFD, FD_CLOEXEC) < 0) fail(errno, "sync fd `", argv[2], "`");
  host_pid = getpid();
  struct op *ops;
  size_t n = program_load(argv[1], &ops);
  for (size_t i = 0; i < n; i++) {
    if (ops[i].code == OP_AWAIT_PROGRAM) { /* the rest comes later on the program's descriptor */
      n = program_next(&ops);
      i = (size_t)-1;
      continue;
    }
    if (ops[i].code == OP_CLONE)
      i = op_clone(ops, i);
    else
      op_table[ops[i].code](&ops[i]);
  }
  return 0;
}
