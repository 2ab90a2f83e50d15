/* --spawner: a resident berth-monitor with no container that starts container monitors for
 * berthd. berthd is a large process: each fork of it copies its page tables and stops its
 * event loop until the child has exec'd (4–12 ms per start). This process is a few pages,
 * so its fork costs microseconds; berthd sends it MSG_SPAWN frames on the socket, as it
 * sends an exec's to a container's monitor (attach.c, child.c: spawn_monitor).
 *
 * It dies with berthd (parent death signal), is not a subreaper (the monitors it starts
 * fork into the background and go to init, exactly as when berthd spawns them), and only
 * reaps the monitors' first halves. */
#include "monitor.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

int spawner_main(const char *socket_path) {
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) fail(errno, "set the parent death signal");
  if (getppid() != parent) return 0; /* berthd died before the prctl */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  prctl(PR_SET_NAME, "berth-spawner", 0, 0, 0);
  if (chdir("/") < 0) fail(errno, "chdir `/`");
  int sigfd = sigchld_fd();
  attach_listen(socket_path);
  report_ready(0);
  for (;;) {
    struct pollfd p[MAX_CLIENTS + 8];
    size_t n = 0;
    p[n++] = (struct pollfd){ sigfd, POLLIN, 0 };
    n += attach_poll_fds(p + n);
    if (poll(p, n, -1) < 0) {
      if (errno == EINTR) continue;
      fail(errno, "poll");
    }
    if (p[0].revents) {
      struct signalfd_siginfo si;
      while (read(sigfd, &si, sizeof si) > 0) {}
      while (waitpid(-1, NULL, WNOHANG) > 0) {}
    }
    attach_handle(p + 1, n - 1);
  }
}
