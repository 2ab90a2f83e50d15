/* Attach: a unix socket whose clients receive the live output and send stdin, resize and
 * close-stdin messages; and the console socket over which berth-init's CONSOLE op sends
 * the pty master.
 *
 * Monitor to client: [stream, 0, 0, 0, size BE32] + size bytes per chunk (stream 1 stdout,
 * 2 stderr), or the raw bytes when the container has a tty.
 * Client to monitor: [type, 0, 0, 0, size BE32] + size bytes, type 0 stdin data, 1 close
 * stdin (no payload), 2 resize (rows BE16, cols BE16), 3 start another monitor (an exec's:
 * its argv as NUL-terminated strings, sent whole in one message with the descriptors it
 * gets as fds 2, 3, … in SCM_RIGHTS; see child.c), 4 hand over (no payload, one descriptor
 * in SCM_RIGHTS: a connection of the client's own client, which takes the client's place:
 * berthd hands an exec's hijacked API connection over, so the output goes straight to
 * `docker exec` and its end is the end of the stream; what that connection sends is not
 * read as messages and is dropped), 5 hold the output (no payload: none is read until this
 * client hands over, releases or goes, so berthd can send the program before the hand-over
 * it has yet to make), 6 release it. Unknown types are skipped.
 *
 * Nothing here blocks: a client whose socket is full gets the rest of its frame queued (one
 * at most), and main.c reads no more output until every queue is flushed, so a slow client
 * slows the container's writes down (as Docker's attach does) and loses nothing. A client
 * that takes none of its queue for attach_stall_ms is disconnected (it sees the stream
 * end, never a gap in it) and the container goes on; the log has everything. Clients are
 * read only while the stdin queue is empty, so a container that does not read its stdin
 * slows its writers down, never the monitor. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum { MSG_STDIN = 0, MSG_CLOSE_STDIN = 1, MSG_RESIZE = 2, MSG_SPAWN = 3, MSG_HANDOFF = 4, MSG_HOLD = 5, MSG_RELEASE = 6 };
#define MAX_SPAWN_FDS 8

int tty_mode;
static int listen_fd = -1, console_fd = -1, console_conn = -1, master = -1;
static const char *attach_path, *console_path;
static int stdin_wanted;          /* --stdin: input goes to the container */
static int in_fd = -1;            /* the container's stdin: pipe write end or the pty master */
static int in_close_pending;
static char in_buf[CHUNK];
static size_t in_len, in_off;

struct client {
  int fd; /* 0: free slot (the monitor's fd 0 is /dev/null, never a client) */
  uint8_t hdr[8], hlen, type, ctl[4], ctl_len;
  uint8_t eof; /* the client shut its side down: output still goes to it */
  uint8_t raw; /* handed over (MSG_HANDOFF): its input is not messages, and is dropped */
  uint32_t left;       /* payload bytes of the current incoming frame not yet read */
  uint32_t plen, poff; /* the queued outgoing frame in pend[i] */
  int64_t stalled_at;  /* CLOCK_MONOTONIC ms when the queue last made no progress */
  int fds[MAX_SPAWN_FDS]; /* received with the client's data, for a MSG_SPAWN */
  uint8_t nfds;
};
static struct client clients[MAX_CLIENTS];
static char pend[MAX_CLIENTS][CHUNK + 8];
/* The client holding the output (MSG_HOLD), -1 for none, and since when (attach_now_ms). */
static int holder = -1;
static int64_t held_since;

/* What each pollfd attach_poll_fds added stands for. */
enum { K_LISTEN, K_CONSOLE_LISTEN, K_CONSOLE_CONN, K_STDIN, K_CLIENT };
static uint8_t kind[MAX_CLIENTS + 4], slot[MAX_CLIENTS + 4];

static int unix_listen(const char *path) {
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen(path) >= sizeof sa.sun_path) fail(ENAMETOOLONG, "listen on `", path, "`");
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(errno, "socket for `", path, "`");
  unlink(path); /* the path belongs to this container: a stale socket of a dead monitor goes */
  mode_t old = umask(0177);
  int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  umask(old);
  if (r < 0 || listen(fd, 16) < 0) fail(errno, "listen on `", path, "`");
  return fd;
}

void attach_listen(const char *path) {
  attach_path = path;
  listen_fd = unix_listen(path);
}

void console_listen(const char *path) {
  console_path = path;
  console_fd = unix_listen(path);
  tty_mode = 1;
}

void attach_set_stdin(int fd) {
  stdin_wanted = 1;
  in_fd = fd;
}

int attach_console_master(void) { return master; }

int64_t attach_stall_ms = 60000;

int64_t attach_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void client_drop(struct client *c) {
  if (holder == c - clients) holder = -1; /* gone: nobody will hand over, the output flows */
  for (unsigned i = 0; i < c->nfds; i++) close(c->fds[i]);
  if (c->raw) shutdown(c->fd, SHUT_WR); /* the stream's end, whoever else holds the connection */
  close(c->fd);
  memset(c, 0, sizeof *c);
}

static void stdin_close(void) {
  in_close_pending = 0;
  if (in_fd < 0) return;
  if (tty_mode) {
    /* the pty stays: hanging it up would end the session; ^D is the terminal's EOF */
    if (write(in_fd, "\x04", 1) < 0) { /* nothing to do: the container is gone or not reading */ }
    return;
  }
  close(in_fd);
  in_fd = -1;
}

static void stdin_flush(void) {
  while (in_off < in_len) {
    ssize_t w = write(in_fd, in_buf + in_off, in_len - in_off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return; /* wait for POLLOUT */
    if (w < 0) {                          /* the container closed its stdin: input is lost */
      if (!tty_mode) close(in_fd);
      in_fd = -1;
      break;
    }
    in_off += (size_t)w;
  }
  in_len = in_off = 0;
  if (in_close_pending) stdin_close();
}

static void frame_done(struct client *c) {
  c->hlen = 0;
  if (c->type == MSG_CLOSE_STDIN) {
    if (in_len) in_close_pending = 1;
    else stdin_close();
  } else if (c->type == MSG_RESIZE && c->ctl_len == 4 && master >= 0) {
    struct winsize ws = { (unsigned short)(c->ctl[0] << 8 | c->ctl[1]), (unsigned short)(c->ctl[2] << 8 | c->ctl[3]), 0, 0 };
    if (ioctl(master, TIOCSWINSZ, &ws) < 0) warn(errno, "resize the pty");
  }
}

/* Keeps the descriptors a message carried (for a MSG_SPAWN); beyond MAX_SPAWN_FDS they go. */
static void client_take_fds(struct client *c, struct msghdr *m) {
  for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
      if (c->nfds < MAX_SPAWN_FDS) c->fds[c->nfds++] = fd;
      else close(fd);
    }
  }
}

/* A MSG_SPAWN whose payload is at buf[0..len) (NULL: it did not come whole in one message). */
static void client_spawn(struct client *c, char *buf, size_t len) {
  if (buf && c->nfds) {
    spawn_monitor(buf, len, c->fds, c->nfds);
    c->nfds = 0;
  } else warn(EINVAL, "a monitor start request without its descriptors or not in one message");
  client_drop(c); /* the fds are the new monitor's now; the requester sees EOF */
}

/* A MSG_HANDOFF: the descriptor it carried becomes a client in this one's place. It comes
 * before the program is sent or while this client holds the output, so this client has been
 * sent no output yet; the new one gets it from the first byte, and the hold ends. */
static void client_handoff(struct client *c) {
  if (c->nfds != 1 || fcntl(c->fds[0], F_SETFL, fcntl(c->fds[0], F_GETFL) | O_NONBLOCK) < 0) {
    warn(EINVAL, "a hand-over without exactly one socket");
    client_drop(c);
    return;
  }
  int fd = c->fds[0];
  c->nfds = 0;
  close(c->fd);
  memset(c, 0, sizeof *c);
  c->fd = fd;
  c->raw = 1;
  if (holder == c - clients) holder = -1;
}

static void client_read(struct client *c) {
  char buf[CHUNK]; /* in_buf is empty: whatever stdin data this holds fits in it */
  if (c->raw) {
    ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n < 0) client_drop(c);
    else if (n == 0) c->eof = 1;
    return;
  }
  union {
    char b[CMSG_SPACE(sizeof(int) * MAX_SPAWN_FDS)];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = { buf, sizeof buf };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b };
  ssize_t n = recvmsg(c->fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0) {
    client_drop(c);
    return;
  }
  if (m.msg_controllen) client_take_fds(c, &m);
  if (n == 0) {
    c->eof = 1;
    if (holder == c - clients) holder = -1; /* it can send no hand-over now */
    return;
  }
  for (size_t i = 0; i < (size_t)n;) {
    if (c->hlen < 8) {
      c->hdr[c->hlen++] = (uint8_t)buf[i++];
      if (c->hlen == 8) {
        c->type = c->hdr[0];
        c->left = (uint32_t)c->hdr[4] << 24 | (uint32_t)c->hdr[5] << 16 | (uint32_t)c->hdr[6] << 8 | c->hdr[7];
        c->ctl_len = 0;
        if (c->type == MSG_SPAWN) {
          client_spawn(c, c->left <= (size_t)n - i ? buf + i : NULL, c->left);
          break;
        }
        if (c->type == MSG_HANDOFF) {
          client_handoff(c);
          break;
        }
        if (c->type == MSG_HOLD && holder < 0) holder = (int)(c - clients), held_since = attach_now_ms();
        if (c->type == MSG_RELEASE && holder == c - clients) holder = -1;
        if (!c->left) frame_done(c);
      }
      continue;
    }
    size_t take = (size_t)n - i < c->left ? (size_t)n - i : c->left;
    if (c->type == MSG_STDIN && in_fd >= 0 && !in_close_pending) {
      memcpy(in_buf + in_len, buf + i, take);
      in_len += take;
    } else if (c->type == MSG_RESIZE) {
      for (size_t k = 0; k < take && c->ctl_len < 4; k++) c->ctl[c->ctl_len++] = (uint8_t)buf[i + k];
    }
    i += take;
    c->left -= (uint32_t)take;
    if (!c->left) frame_done(c);
  }
  if (in_len) stdin_flush();
}

static void client_flush(struct client *c, size_t i) {
  while (c->poff < c->plen) {
    ssize_t w = send(c->fd, pend[i] + c->poff, c->plen - c->poff, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return;
    if (w < 0) {
      client_drop(c);
      return;
    }
    c->poff += (uint32_t)w;
    c->stalled_at = attach_now_ms();
  }
  c->plen = c->poff = 0;
}

int attach_output_held(void) { return holder >= 0; }

/* ms until the hold expires (a holder that never hands over loses it after attach_stall_ms,
 * as a client that takes no output is disconnected), -1 when nothing is held. */
static int hold_timeout(void) {
  if (holder < 0) return -1;
  int64_t left = held_since + attach_stall_ms - attach_now_ms();
  return left <= 0 ? 0 : left > 1 << 30 ? 1 << 30 : (int)left;
}

int attach_timeout(void) {
  int s = attach_stall_timeout(), h = hold_timeout();
  return s < 0 ? h : h < 0 || s < h ? s : h;
}

void attach_expire_hold(void) {
  if (hold_timeout() != 0) return;
  warn(0, "an attach client held the output for ", num(attach_now_ms() - held_since), " ms without a hand-over: released");
  holder = -1;
}

void attach_wait_released(void) {
  while (holder >= 0) {
    struct pollfd p[MAX_CLIENTS + 4];
    size_t n = attach_poll_fds(p);
    int r = poll(p, n, hold_timeout());
    if (r < 0 && errno != EINTR) return;
    if (r > 0) attach_handle(p, n);
    attach_expire_hold();
  }
}

int attach_backlogged(void) {
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    if (clients[i].fd > 0 && clients[i].plen) return 1;
  return 0;
}

int attach_stall_timeout(void) {
  int64_t first = -1;
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    if (clients[i].fd > 0 && clients[i].plen && (first < 0 || clients[i].stalled_at < first)) first = clients[i].stalled_at;
  if (first < 0) return -1;
  int64_t left = first + attach_stall_ms - attach_now_ms();
  return left <= 0 ? 0 : left > 1 << 30 ? 1 << 30 : (int)left;
}

void attach_drop_stalled(int64_t deadline_ms) {
  int64_t now = attach_now_ms();
  for (size_t i = 0; i < MAX_CLIENTS; i++) {
    struct client *c = &clients[i];
    if (c->fd <= 0 || !c->plen) continue;
    if (now - c->stalled_at >= attach_stall_ms || (deadline_ms >= 0 && now >= deadline_ms)) {
      warn(0, "an attach client took no output for ", num(now - c->stalled_at), " ms: disconnected");
      client_drop(c);
    }
  }
}

void attach_wait_flushed(int64_t deadline_ms) {
  for (;;) {
    attach_drop_stalled(deadline_ms);
    if (!attach_backlogged()) return;
    struct pollfd p[MAX_CLIENTS];
    size_t n = 0, at[MAX_CLIENTS];
    for (size_t i = 0; i < MAX_CLIENTS; i++)
      if (clients[i].fd > 0 && clients[i].plen) at[n] = i, p[n++] = (struct pollfd){ clients[i].fd, POLLOUT, 0 };
    int t = attach_stall_timeout();
    int64_t left = deadline_ms - attach_now_ms();
    if (left < 0) left = 0;
    int r = poll(p, n, t < 0 || t > left ? (int)left : t);
    if (r < 0 && errno != EINTR) return;
    for (size_t k = 0; r > 0 && k < n; k++) {
      if (!p[k].revents) continue;
      if (p[k].revents & POLLOUT) client_flush(&clients[at[k]], at[k]);
      else client_drop(&clients[at[k]]); /* POLLHUP/POLLERR: gone */
    }
  }
}

void attach_broadcast(int stream, const char *buf, size_t len) {
  uint8_t hdr[8] = { (uint8_t)stream, 0, 0, 0, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len };
  for (size_t i = 0; i < MAX_CLIENTS; i++) {
    struct client *c = &clients[i];
    if (c->fd <= 0) continue;
    if (c->plen) { /* main.c reads nothing while a frame is queued: cannot happen */
      client_drop(c);
      continue;
    }
    struct iovec iov[2] = { { hdr, 8 }, { (void *)buf, len } };
    struct msghdr m = { .msg_iov = tty_mode ? iov + 1 : iov, .msg_iovlen = tty_mode ? 1 : 2 };
    size_t total = len + (tty_mode ? 0 : 8);
    ssize_t w;
    do w = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno == EAGAIN) w = 0;
    if (w < 0) {
      client_drop(c);
      continue;
    }
    if ((size_t)w == total) continue;
    /* queue the rest of this frame, so that the client's stream stays well-framed */
    size_t off = 0;
    for (int k = tty_mode ? 1 : 0; k < 2; k++) {
      size_t l = iov[k].iov_len, skip = (size_t)w > l ? l : (size_t)w;
      memcpy(pend[i] + off, (char *)iov[k].iov_base + skip, l - skip);
      off += l - skip;
      w -= (ssize_t)skip;
    }
    c->plen = (uint32_t)off;
    c->poff = 0;
    c->stalled_at = attach_now_ms();
  }
}

static void add_client(int fd) {
  for (size_t i = 0; i < MAX_CLIENTS; i++) {
    if (clients[i].fd > 0) continue;
    memset(&clients[i], 0, sizeof clients[i]);
    clients[i].fd = fd;
    return;
  }
  close(fd); /* full: the client sees EOF at once */
}

static void accept_client(void) {
  int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) add_client(fd);
}

void attach_adopt(int fd) {
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) fail(errno, "attach fd");
  add_client(fd);
}

static void console_receive(void) {
  char name[64], ctl[CMSG_SPACE(sizeof(int))];
  struct iovec iov = { name, sizeof name };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl };
  ssize_t n = recvmsg(console_conn, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL;
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
    memcpy(&master, CMSG_DATA(c), sizeof master);
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    if (stdin_wanted) in_fd = master;
    close(console_fd);
    console_fd = -1;
    unlink(console_path);
  }
  close(console_conn); /* a message without a descriptor, or EOF: wait for another connection */
  console_conn = -1;
}

size_t attach_poll_fds(struct pollfd *p) {
  size_t n = 0;
  if (listen_fd >= 0) kind[n] = K_LISTEN, p[n++] = (struct pollfd){ listen_fd, POLLIN, 0 };
  if (console_fd >= 0 && console_conn < 0) kind[n] = K_CONSOLE_LISTEN, p[n++] = (struct pollfd){ console_fd, POLLIN, 0 };
  if (console_conn >= 0) kind[n] = K_CONSOLE_CONN, p[n++] = (struct pollfd){ console_conn, POLLIN, 0 };
  if (in_len && in_fd >= 0) kind[n] = K_STDIN, p[n++] = (struct pollfd){ in_fd, POLLOUT, 0 };
  for (size_t i = 0; i < MAX_CLIENTS; i++) {
    struct client *c = &clients[i];
    if (c->fd <= 0) continue;
    short ev = (short)((in_len || c->eof ? 0 : POLLIN) | (c->plen ? POLLOUT : 0));
    kind[n] = K_CLIENT, slot[n] = (uint8_t)i, p[n++] = (struct pollfd){ c->fd, ev, 0 };
  }
  return n;
}

void attach_handle(const struct pollfd *p, size_t n) {
  for (size_t k = 0; k < n; k++) {
    short re = p[k].revents;
    if (!re) continue;
    switch (kind[k]) {
      case K_LISTEN: accept_client(); break;
      case K_CONSOLE_LISTEN:
        console_conn = accept4(console_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        break;
      case K_CONSOLE_CONN: console_receive(); break;
      case K_STDIN:
        if (in_len) stdin_flush();
        break;
      case K_CLIENT: {
        struct client *c = &clients[slot[k]];
        if (c->fd != p[k].fd) break; /* dropped earlier in this round */
        if (re & POLLOUT) client_flush(c, slot[k]);
        if (c->fd <= 0) break;
        if (p[k].events & POLLIN) {
          if (re & (POLLIN | POLLHUP | POLLERR)) client_read(c);
        } else if (re & (POLLHUP | POLLERR)) {
          client_drop(c);
        }
        break;
      }
    }
  }
}

void attach_close(void) {
  for (size_t i = 0; i < MAX_CLIENTS; i++) {
    if (clients[i].fd <= 0) continue;
    if (clients[i].plen) client_flush(&clients[i], i);
    if (clients[i].fd > 0) client_drop(&clients[i]);
  }
  if (listen_fd >= 0) {
    close(listen_fd);
    unlink(attach_path);
    listen_fd = -1;
  }
  if (console_conn >= 0) close(console_conn);
  if (console_fd >= 0) {
    close(console_fd);
    unlink(console_path);
  }
  console_fd = console_conn = -1;
  if (in_fd >= 0 && in_fd != master) close(in_fd);
  if (master >= 0) close(master);
  in_fd = master = -1;
}
