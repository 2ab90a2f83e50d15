/* berth-monitor: one small process per running container (docs/monitor.md). It holds the
 * container's stdio, writes the json-file log, serves attach on a unix socket, reaps the
 * container and writes its exit status. No policy, no JSON parsing, no stdio buffering. */
#ifndef BERTH_MONITOR_H
#define BERTH_MONITOR_H
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "../common/text.h"

#define CHUNK 4096       /* one read of container output, one frame to a client */
#define MAX_CLIENTS 16   /* attach connections at once */
#define MAX_PASS_FDS 64  /* inherited descriptors handed on to berth-init */

enum { STREAM_STDIN = 0, STREAM_STDOUT = 1, STREAM_STDERR = 2 };

/* util.c */
extern int ready_fd; /* the caller's pipe until the `ok` line; failures go there too */
/* --ready-exit: the ready fd stays open after `ok` for the exit line (report_exit). */
extern int ready_exit;
/* Writes `ok MONITOR_PID INIT_PID` on the ready fd (when there is one) and closes it,
 * unless ready_exit. */
void report_ready(long init_pid);
/* Writes the exit line (child_exit_line) on a ready fd kept open, and closes it. */
void report_exit(const char *line);
/* SIGCHLD blocked and readable from the returned signalfd (non-blocking, close-on-exec). */
int sigchld_fd(void);
/* Reports "<m>: <strerror(err)>" (just m when err is 0) on the ready fd and stderr. */
void warn_msg(int err, const char *m);
__attribute__((noreturn)) void fail_msg(int err, const char *m);
#define fail(err, ...) fail_msg((err), msg(__VA_ARGS__, NULL))
#define warn(err, ...) warn_msg((err), msg(__VA_ARGS__, NULL))
/* Writes data to path atomically: temp file, rename. Not fsync'd: its files live in the exec
 * root, a tmpfs gone at reboot, and are read by this boot's berthd only. */
int write_file_atomic(const char *path, const char *data, size_t len);
int64_t now_ns(void); /* CLOCK_REALTIME */

/* log.c: the json-file log */
void log_open(const char *path, int64_t max_size, int max_files);
/* A chunk of output of stream (STREAM_STDOUT/STDERR) read at time t. */
void log_output(int stream, const char *buf, size_t len, int64_t t);
/* Writes out partial lines and closes the file. */
void log_close(void);

/* attach.c: attach clients, container stdin, the console socket */
extern int tty_mode;
void attach_listen(const char *path);
/* A connected socket (close-on-exec) as a client from the start. */
void attach_adopt(int fd);
void console_listen(const char *path);
/* The container's stdin: a pipe's write end or the pty master; -1 for none. */
void attach_set_stdin(int fd);
/* Sends output to every client (framed unless tty_mode); what a full socket cannot take
 * is queued for it. Call only when !attach_backlogged(). */
void attach_broadcast(int stream, const char *buf, size_t len);
/* A client has a queued frame: read no output until it is flushed (backpressure). */
int attach_backlogged(void);
/* A client holds the output (MSG_HOLD): read none until it hands over, releases or goes. */
int attach_output_held(void);
/* Ends a hold older than attach_stall_ms. */
void attach_expire_hold(void);
/* Waits (handling clients) until no client holds the output. */
void attach_wait_released(void);
/* A poll timeout for the main loop: the first stall or hold limit, -1 when neither. */
int attach_timeout(void);
/* Disconnects a client whose queue took nothing for attach_stall_ms (--attach-stall-ms). */
extern int64_t attach_stall_ms;
/* ms until the first queued client reaches that limit, -1 when none is queued (a poll timeout). */
int attach_stall_timeout(void);
/* Disconnects the queued clients past the limit, and all of them at deadline_ms (-1: none). */
void attach_drop_stalled(int64_t deadline_ms);
/* Flushes every queue, waiting until deadline_ms at most; clients still queued then go. */
void attach_wait_flushed(int64_t deadline_ms);
int64_t attach_now_ms(void); /* CLOCK_MONOTONIC */
/* pollfd set management: adds this module's fds, then handles their events. */
struct pollfd;
size_t attach_poll_fds(struct pollfd *p);
void attach_handle(const struct pollfd *p, size_t n);
/* The pty master once the console socket delivered it, else -1. */
int attach_console_master(void);
void attach_close(void);

/* child.c: berth-init, the container, reaping, the exit file */
struct spawn_opts {
  const char *init, *program, *sync_fd, *pid_file;
  int stdin_fd, stdout_fd, stderr_fd;
  const int *pass_fds;
  size_t npass;
};
pid_t spawn_init(const struct spawn_opts *o);
void child_init(pid_t init_pid, const char *pid_file);
/* Reaps every child that has exited; returns 1 once the container's status is known. */
int child_reap(void);
/* "exited N T\n" or "signaled N T\n": the exit file's content. */
const char *child_exit_line(void);
/* Writes child_exit_line() to path. */
void child_write_exit_file(const char *path);
/* Starts another berth-monitor (this program) as a child, for an exec: args holds its argv
 * as NUL-terminated strings (len bytes), fds become its fds 2, 3, …; they are closed here. */
void spawn_monitor(char *args, size_t len, const int *fds, size_t nfds);

/* spawner.c: --spawner, a resident process that starts container monitors for berthd */
int spawner_main(const char *socket_path);

#endif
