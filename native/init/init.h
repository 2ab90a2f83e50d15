/* berth-init: the interpreter of the init program (docs/init-program.md). */
#ifndef BERTH_INIT_H
#define BERTH_INIT_H
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "../common/text.h"

enum {
  OP_SETNS = 1, OP_SETNS_PID, OP_UNSHARE, OP_WRITE_FILE, OP_CLONE, OP_CHILD_WRITE,
  OP_CHILD_CGROUP, OP_CHILD_REPORT, OP_CHILD_PIDFILE, OP_RELEASE, OP_WAIT_CHILD, OP_EXIT,
  OP_SETHOSTNAME, OP_SETDOMAINNAME, OP_MOUNT, OP_UMOUNT, OP_MKDIR, OP_MKNOD, OP_SYMLINK,
  OP_TOUCH, OP_PIVOT_ROOT, OP_MOVE_ROOT, OP_MASK_PATH, OP_READONLY_PATH, OP_CHDIR,
  OP_SETRLIMIT, OP_SETGROUPS, OP_SETRESGID, OP_SETRESUID, OP_KEEPCAPS, OP_CAP_BOUNDING,
  OP_CAPSET, OP_CAP_AMBIENT, OP_NO_NEW_PRIVS, OP_SECCOMP, OP_UMASK, OP_CLOSE_FDS,
  OP_CONNECT, OP_OPEN, OP_CONSOLE, OP_WAIT_FIFO, OP_SYNC, OP_READY, OP_EXEC, OP_RUN_HOOK,
  OP_SETSID, OP_PDEATHSIG, OP_PERSONALITY, OP_CHOWN, OP_JOIN_KEYRING,
  OP_FCHOWN, OP_WAIT_FIFO_AT, OP_LINK_UP, OP_CHILD_JOINED, OP_WAIT_JOINED, OP_CLONE_INTO_CGROUP,
  OP_PIDFILE_DIR, OP_AWAIT_PROGRAM, OP_WRITE_REG, OP_CHILD_PID_REG, OP_MAX = OP_CHILD_PID_REG
};

enum { ARG_INT = 1, ARG_STR, ARG_BYTES, ARG_STRLIST, ARG_INTLIST };

#define NREGS 16

struct arg {
  uint8_t type;
  uint32_t len;
  const char *p;
};

struct op {
  uint16_t code;
  uint16_t argc;
  const struct arg *args;
};

/* program.c */
/* Reads and validates the program at path; returns the op count, *ops the ops. Dies on error. */
size_t program_load(const char *path, struct op **ops);
/* After a program that ended in AWAIT_PROGRAM: reads, validates and returns the next one
 * from the same descriptor; dies when it closes first (the launch was cancelled). */
size_t program_next(struct op **ops);
int64_t arg_int(const struct op *o, int i);
const char *arg_str(const struct op *o, int i);
/* A NULL-terminated array of the strings of a strlist argument (malloc'd). */
char **arg_strlist(const struct op *o, int i);

/* report.c: sync fd, messages, failure */
extern int sync_fd;
/* Reports "<m>: <strerror(err)>" (just m when err is 0) and exits with code. */
__attribute__((noreturn)) void fail_code(int code, int err, const char *m);
#define fail(err, ...) fail_code(1, (err), msg(__VA_ARGS__, NULL))
/* Writes a line to the sync fd; dies when there is none or it fails. */
void sync_send(const char *what, const char *line);

/* selfclone.c */
void ensure_sealed_exe(char **argv);

/* The ops, one file per concern. Each dies with a precise message on failure. */
typedef void (*op_fn)(const struct op *o);
extern const op_fn op_table[OP_MAX + 1];

/* proc.c: process state shared by ops */
extern int regs[NREGS];
extern pid_t child_pid;   /* the child of the last CLONE, in the parent */
extern pid_t host_pid;    /* this process's pid in the runtime's pid namespace */
/* A released child the parent has not yet told it is in its cgroups (CHILD_JOINED): a
 * failing parent kills it, so no half-made container runs on. 0 when none. */
extern pid_t unjoined_child;
/* Runs CLONE at index i; returns the index of the last op this process skips. */
size_t op_clone(const struct op *ops, size_t i);
void set_reg(int reg, int fd);
int unix_connect(const char *path); /* sync.c; -1 and errno on failure */

void op_setns(const struct op *), op_setns_pid(const struct op *), op_unshare(const struct op *),
    op_write_file(const struct op *), op_child_write(const struct op *),
    op_child_cgroup(const struct op *), op_child_report(const struct op *),
    op_child_pidfile(const struct op *), op_child_pid_reg(const struct op *), op_release(const struct op *),
    op_child_joined(const struct op *), op_wait_joined(const struct op *), op_clone_into_cgroup(const struct op *),
    op_pidfile_dir(const struct op *), op_write_reg(const struct op *),
    op_wait_child(const struct op *), op_exit(const struct op *),
    op_sethostname(const struct op *), op_setdomainname(const struct op *), op_link_up(const struct op *),
    op_setsid(const struct op *), op_pdeathsig(const struct op *),
    op_personality(const struct op *), op_join_keyring(const struct op *),
    op_umask(const struct op *), op_chdir(const struct op *), op_setrlimit(const struct op *),
    op_open(const struct op *), op_connect(const struct op *), op_wait_fifo(const struct op *), op_wait_fifo_at(const struct op *),
    op_sync(const struct op *), op_ready(const struct op *);
/* mount.c */
void op_mount(const struct op *), op_umount(const struct op *), op_mkdir(const struct op *),
    op_mknod(const struct op *), op_symlink(const struct op *), op_touch(const struct op *),
    op_pivot_root(const struct op *), op_move_root(const struct op *),
    op_mask_path(const struct op *), op_readonly_path(const struct op *),
    op_chown(const struct op *), op_fchown(const struct op *);
/* creds.c */
void op_setgroups(const struct op *), op_setresgid(const struct op *),
    op_setresuid(const struct op *), op_keepcaps(const struct op *),
    op_cap_bounding(const struct op *), op_capset(const struct op *),
    op_cap_ambient(const struct op *), op_no_new_privs(const struct op *),
    op_seccomp(const struct op *);
/* exec.c */
void op_exec(const struct op *), op_run_hook(const struct op *), op_close_fds(const struct op *);
/* console.c */
void op_console(const struct op *);
int send_fd(int sock, int fd, const char *data, size_t len);
#endif
