/* Descriptor passing and terminal sizes, for a runtime that holds a container's pty master:
 *   recvFd(socketFd)            one message from a unix socket: the first SCM_RIGHTS fd
 *                               (close-on-exec) and the data as a string; null when nothing
 *                               is queued (EAGAIN). Extra fds in the message are closed.
 *   socketPair()                a connected pair of unix stream sockets (close-on-exec)
 *   sendFds(path, data, fds)    connects to the unix socket at path, sends data with fds
 *                               (SCM_RIGHTS) in one message, and closes the connection;
 *                               never blocks (EAGAIN when the listener's backlog is full)
 *   sendFds(socketFd, data, fds) the same on a connected socket, which stays open; never
 *                               blocks (EAGAIN when its buffer cannot take the message)
 *   getWinsize(fd)              TIOCGWINSZ: { rows, cols }
 *   setWinsize(fd, rows, cols)  TIOCSWINSZ (the kernel signals the pty's foreground group)
 *   ttyMakeRaw(fd)              cfmakeraw on a terminal; returns the termios it had (a Buffer)
 *   ttyRestore(fd, saved)       puts that termios back
 * No policy here: which socket, which terminal and when are the caller's. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include "addon.h"

#define MAX_FDS 16

static int get_ints(napi_env env, napi_callback_info info, int32_t *out, size_t want) {
  napi_value argv[3];
  size_t argc = 3;
  if (want > 3 || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  if (argc < want) {
    napi_throw_type_error(env, NULL, "expected integer arguments");
    return -1;
  }
  for (size_t i = 0; i < want; i++) {
    if (napi_get_value_int32(env, argv[i], &out[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "expected integer arguments");
      return -1;
    }
  }
  return 0;
}

static napi_value make_int(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

napi_value berth_recv_fd(napi_env env, napi_callback_info info) {
  int32_t sock;
  if (get_ints(env, info, &sock, 1) < 0) return NULL;
  char data[4096];
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  memset(&ctl, 0, sizeof ctl);
  struct iovec iov = { data, sizeof data - 1 };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
  ssize_t n;
  do n = recvmsg(sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_value nul;
      napi_get_null(env, &nul);
      return nul;
    }
    return berth_throw_errno(env, "recvmsg", errno);
  }
  int fd = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int got;
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      if (fd < 0) fd = got;
      else close(got);
    }
  }
  if (fd < 0) {
    napi_throw_error(env, "ENOMSG", n == 0 ? "recvmsg: the peer closed the socket without sending a descriptor"
                                           : "recvmsg: a message without a descriptor");
    return NULL;
  }
  size_t len = (size_t)n;
  while (len > 0 && data[len - 1] == '\0') len--;
  napi_value r, name;
  napi_create_object(env, &r);
  napi_set_named_property(env, r, "fd", make_int(env, fd));
  napi_create_string_utf8(env, data, len, &name);
  napi_set_named_property(env, r, "name", name);
  return r;
}

napi_value berth_socket_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return berth_throw_errno(env, "socketpair", errno);
  napi_value r;
  napi_create_array_with_length(env, 2, &r);
  napi_set_element(env, r, 0, make_int(env, sv[0]));
  napi_set_element(env, r, 1, make_int(env, sv[1]));
  return r;
}

napi_value berth_send_fds(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3, plen = 0, len;
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  void *data;
  uint32_t nfds;
  int32_t conn = -1;
  bool is_array = false;
  napi_valuetype target = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc >= 1) napi_typeof(env, argv[0], &target);
  if (argc < 3 ||
      (target == napi_number ? napi_get_value_int32(env, argv[0], &conn) != napi_ok || conn < 0
                             : napi_get_value_string_utf8(env, argv[0], sa.sun_path, sizeof sa.sun_path, &plen) != napi_ok) ||
      napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok || napi_is_array(env, argv[2], &is_array) != napi_ok ||
      !is_array || napi_get_array_length(env, argv[2], &nfds) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendFds(target, data, fds): expected a path or a socket fd, a Buffer and an array of fds");
    return NULL;
  }
  if (plen >= sizeof sa.sun_path - 1) return berth_throw_errno(env, "sendFds: socket path", ENAMETOOLONG);
  if (nfds == 0 || nfds > MAX_FDS || len == 0) {
    napi_throw_range_error(env, NULL, "sendFds: 1 to 16 fds and a non-empty message");
    return NULL;
  }
  int fds[MAX_FDS];
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value v;
    if (napi_get_element(env, argv[2], i, &v) != napi_ok || napi_get_value_int32(env, v, &fds[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "sendFds: fds must be integers");
      return NULL;
    }
  }
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  memset(&ctl, 0, sizeof ctl);
  struct iovec iov = { data, len };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = CMSG_SPACE(sizeof(int) * nfds) };
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
  memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  if (conn >= 0) {
    ssize_t n;
    do n = sendmsg(conn, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) return berth_throw_errno(env, "sendmsg", errno);
    if ((size_t)n != len) return berth_throw_errno(env, "sendmsg: short write", EMSGSIZE);
    return NULL;
  }
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return berth_throw_errno(env, "socket", errno);
  ssize_t n = -1;
  const char *what = "connect";
  if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0) {
    what = "sendmsg";
    do n = sendmsg(s, &m, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
  }
  int e = errno;
  close(s);
  if (n < 0) return berth_throw_errno(env, what, e);
  if ((size_t)n != len) return berth_throw_errno(env, "sendmsg: short write", EMSGSIZE);
  return NULL;
}

napi_value berth_get_winsize(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (get_ints(env, info, &fd, 1) < 0) return NULL;
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) < 0) return berth_throw_errno(env, "ioctl TIOCGWINSZ", errno);
  napi_value r;
  napi_create_object(env, &r);
  napi_set_named_property(env, r, "rows", make_int(env, ws.ws_row));
  napi_set_named_property(env, r, "cols", make_int(env, ws.ws_col));
  return r;
}

napi_value berth_set_winsize(napi_env env, napi_callback_info info) {
  int32_t a[3];
  if (get_ints(env, info, a, 3) < 0) return NULL;
  if (a[1] < 0 || a[1] > 0xffff || a[2] < 0 || a[2] > 0xffff) {
    napi_throw_range_error(env, NULL, "setWinsize: rows and cols must be 0-65535");
    return NULL;
  }
  struct winsize ws = { (unsigned short)a[1], (unsigned short)a[2], 0, 0 };
  if (ioctl(a[0], TIOCSWINSZ, &ws) < 0) return berth_throw_errno(env, "ioctl TIOCSWINSZ", errno);
  return NULL;
}

napi_value berth_tty_make_raw(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (get_ints(env, info, &fd, 1) < 0) return NULL;
  struct termios saved, raw;
  if (tcgetattr(fd, &saved) < 0) return berth_throw_errno(env, "tcgetattr", errno);
  raw = saved;
  cfmakeraw(&raw);
  if (tcsetattr(fd, TCSANOW, &raw) < 0) return berth_throw_errno(env, "tcsetattr", errno);
  napi_value r;
  void *data;
  napi_create_buffer_copy(env, sizeof saved, &saved, &data, &r);
  return r;
}

napi_value berth_tty_restore(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  int32_t fd;
  void *data;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok || len != sizeof(struct termios)) {
    napi_throw_type_error(env, NULL, "ttyRestore(fd, saved): saved must be what ttyMakeRaw returned");
    return NULL;
  }
  struct termios t;
  memcpy(&t, data, sizeof t);
  if (tcsetattr(fd, TCSANOW, &t) < 0) return berth_throw_errno(env, "tcsetattr", errno);
  return NULL;
}
