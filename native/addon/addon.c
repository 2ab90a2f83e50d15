#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "addon.h"

napi_value berth_throw_errno(napi_env env, const char *what, int err) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value m, e, code;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  const char *name = strerrorname_np(err);
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_set_named_property(env, e, "code", code);
  napi_throw(env, e);
  return NULL;
}

static void export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

static napi_value init(napi_env env, napi_value exports) {
  export_fn(env, exports, "seccompCompile", berth_seccomp_compile);
  export_fn(env, exports, "seccompResolve", berth_seccomp_resolve);
  export_fn(env, exports, "bpfDeviceAttach", berth_bpf_device_attach);
  export_fn(env, exports, "recvFd", berth_recv_fd);
  export_fn(env, exports, "socketPair", berth_socket_pair);
  export_fn(env, exports, "sendFds", berth_send_fds);
  export_fn(env, exports, "getWinsize", berth_get_winsize);
  export_fn(env, exports, "setWinsize", berth_set_winsize);
  export_fn(env, exports, "ttyMakeRaw", berth_tty_make_raw);
  export_fn(env, exports, "ttyRestore", berth_tty_restore);
  export_fn(env, exports, "lsetxattr", berth_fs_lsetxattr); export_fn(env, exports, "lgetxattr", berth_fs_lgetxattr); export_fn(env, exports, "llistxattr", berth_fs_llistxattr); export_fn(env, exports, "mknod", berth_fs_mknod);
  export_fn(env, exports, "mount", berth_fs_mount);
  export_fn(env, exports, "umount2", berth_fs_umount2);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
