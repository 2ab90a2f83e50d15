#ifndef BERTH_ADDON_H
#define BERTH_ADDON_H
#include <node_api.h>

/* Each exported function lives in the file named for its concern. */
napi_value berth_seccomp_compile(napi_env env, napi_callback_info info);   /* seccomp.c */
napi_value berth_seccomp_resolve(napi_env env, napi_callback_info info);   /* seccomp.c */
napi_value berth_bpf_device_attach(napi_env env, napi_callback_info info); /* bpf.c */
napi_value berth_recv_fd(napi_env env, napi_callback_info info);          /* fdpass.c */
napi_value berth_socket_pair(napi_env env, napi_callback_info info);      /* fdpass.c */
napi_value berth_send_fds(napi_env env, napi_callback_info info);         /* fdpass.c */
napi_value berth_get_winsize(napi_env env, napi_callback_info info);      /* fdpass.c */
napi_value berth_set_winsize(napi_env env, napi_callback_info info);      /* fdpass.c */
napi_value berth_tty_make_raw(napi_env env, napi_callback_info info);    /* fdpass.c */
napi_value berth_tty_restore(napi_env env, napi_callback_info info);     /* fdpass.c */
napi_value berth_fs_lsetxattr(napi_env env, napi_callback_info info), berth_fs_lgetxattr(napi_env env, napi_callback_info info), berth_fs_llistxattr(napi_env env, napi_callback_info info), berth_fs_mknod(napi_env env, napi_callback_info info); /* fs.c */

napi_value berth_fs_mount(napi_env env, napi_callback_info info), berth_fs_umount2(napi_env env, napi_callback_info info); /* fs.c */

/* Throws a JS Error "<what>: <strerror(errno)>" with .code set to the errno name. */
napi_value berth_throw_errno(napi_env env, const char *what, int err);
#endif
