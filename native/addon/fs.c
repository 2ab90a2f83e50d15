/* Filesystem calls Node lacks: extended attributes of a path itself (never following a
 * final symlink) with binary values, mknod with a device number, mount(2) and umount2(2). Policy-free: each
 * function is one syscall; errors are thrown as "<call> <path>: <strerror>" with .code. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include "addon.h"

#define PATH_ARG_MAX 4097
#define XATTR_NAME_ARG_MAX 256

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/* Copies a JS string argument into buf; false (with a TypeError thrown) when it is not one or too long. */
static int get_string(napi_env env, napi_value v, char *buf, size_t cap, const char *what) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a string", what);
    throw_type(env, msg);
    return 0;
  }
  if (len + 1 > cap) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s is longer than %zu bytes", what, cap - 1);
    throw_type(env, msg);
    return 0;
  }
  napi_get_value_string_utf8(env, v, buf, cap, &len);
  if (strlen(buf) != len) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s contains a NUL byte", what);
    throw_type(env, msg);
    return 0;
  }
  return 1;
}

static napi_value throw_path_errno(napi_env env, const char *call, const char *path, const char *name, int err) {
  char what[PATH_ARG_MAX + XATTR_NAME_ARG_MAX + 32];
  if (name)
    snprintf(what, sizeof what, "%s %s on %s", call, name, path);
  else
    snprintf(what, sizeof what, "%s %s", call, path);
  return berth_throw_errno(env, what, err);
}

/* An optional unsigned flags argument (undefined = 0); false with a TypeError thrown otherwise. */
static int get_flags(napi_env env, napi_value v, uint32_t *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_undefined) return 1;
  if (napi_get_value_uint32(env, v, out) != napi_ok) {
    throw_type(env, "flags must be a number");
    return 0;
  }
  return 1;
}

/* lsetxattr(path, name, value: Buffer, flags = 0) */
napi_value berth_fs_lsetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_type(env, "lsetxattr(path, name, value, flags?)");
  char path[PATH_ARG_MAX], name[XATTR_NAME_ARG_MAX];
  if (!get_string(env, argv[0], path, sizeof path, "path")) return NULL;
  if (!get_string(env, argv[1], name, sizeof name, "xattr name")) return NULL;
  bool is_buffer = false;
  napi_is_buffer(env, argv[2], &is_buffer);
  if (!is_buffer) return throw_type(env, "value must be a Buffer");
  void *data = NULL;
  size_t len = 0;
  napi_get_buffer_info(env, argv[2], &data, &len);
  uint32_t flags = 0;
  if (argc > 3 && !get_flags(env, argv[3], &flags)) return NULL;
  if (lsetxattr(path, name, len ? data : "", len, (int)flags) != 0) return throw_path_errno(env, "lsetxattr", path, name, errno);
  return NULL;
}

/* lgetxattr(path, name): Buffer, or null when the attribute is absent (ENODATA). */
napi_value berth_fs_lgetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) return throw_type(env, "lgetxattr(path, name)");
  char path[PATH_ARG_MAX], name[XATTR_NAME_ARG_MAX];
  if (!get_string(env, argv[0], path, sizeof path, "path")) return NULL;
  if (!get_string(env, argv[1], name, sizeof name, "xattr name")) return NULL;
  for (int tries = 0; tries < 4; tries++) {
    ssize_t n = lgetxattr(path, name, NULL, 0);
    if (n < 0) {
      if (errno == ENODATA) {
        napi_value nul;
        napi_get_null(env, &nul);
        return nul;
      }
      return throw_path_errno(env, "lgetxattr", path, name, errno);
    }
    void *out = NULL;
    napi_value buf;
    if (napi_create_buffer(env, (size_t)n, &out, &buf) != napi_ok) return NULL;
    if (n == 0) return buf;
    ssize_t got = lgetxattr(path, name, out, (size_t)n);
    if (got >= 0) {
      if (got == n) return buf;
      napi_value shorter;
      napi_create_buffer_copy(env, (size_t)got, out, NULL, &shorter);
      return shorter;
    }
    if (errno != ERANGE) return throw_path_errno(env, "lgetxattr", path, name, errno);
    /* The value grew between the two calls: ask again. */
  }
  return throw_path_errno(env, "lgetxattr", path, name, ERANGE);
}

/* llistxattr(path): the attribute names (an empty array when there are none). */
napi_value berth_fs_llistxattr(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return throw_type(env, "llistxattr(path)");
  char path[PATH_ARG_MAX];
  if (!get_string(env, argv[0], path, sizeof path, "path")) return NULL;
  char small[1024];
  char *list = small;
  ssize_t n = llistxattr(path, small, sizeof small);
  for (int tries = 0; n < 0 && errno == ERANGE && tries < 4; tries++) {
    ssize_t need = llistxattr(path, NULL, 0);
    if (need < 0) break;
    if (list != small) free(list);
    list = malloc((size_t)need + 1);
    if (!list) return berth_throw_errno(env, "llistxattr", ENOMEM);
    n = llistxattr(path, list, (size_t)need + 1);
  }
  if (n < 0) {
    int err = errno;
    if (list != small) free(list);
    return throw_path_errno(env, "llistxattr", path, NULL, err);
  }
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t i = 0;
  for (ssize_t off = 0; off < n;) {
    size_t len = strnlen(list + off, (size_t)(n - off));
    if (len > 0) {
      napi_value s;
      napi_create_string_utf8(env, list + off, len, &s);
      napi_set_element(env, arr, i++, s);
    }
    off += (ssize_t)len + 1;
  }
  if (list != small) free(list);
  return arr;
}

/* mknod(path, mode, major, minor): mode carries the file type (S_IFCHR, S_IFBLK, S_IFIFO…) and permissions. */
napi_value berth_fs_mknod(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) return throw_type(env, "mknod(path, mode, major?, minor?)");
  char path[PATH_ARG_MAX];
  if (!get_string(env, argv[0], path, sizeof path, "path")) return NULL;
  uint32_t mode = 0, major = 0, minor = 0;
  if (napi_get_value_uint32(env, argv[1], &mode) != napi_ok) return throw_type(env, "mode must be a number");
  if (argc > 2 && napi_get_value_uint32(env, argv[2], &major) != napi_ok) return throw_type(env, "major must be a number");
  if (argc > 3 && napi_get_value_uint32(env, argv[3], &minor) != napi_ok) return throw_type(env, "minor must be a number");
  if (mknod(path, (mode_t)mode, makedev(major, minor)) != 0) return throw_path_errno(env, "mknod", path, NULL, errno);
  return NULL;
}

#define MOUNT_DATA_MAX 65536

/* mount(source, target, fstype, flags = 0, data = "") */
napi_value berth_fs_mount(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_type(env, "mount(source, target, fstype, flags?, data?)");
  char source[PATH_ARG_MAX], target[PATH_ARG_MAX], fstype[64];
  if (!get_string(env, argv[0], source, sizeof source, "source")) return NULL;
  if (!get_string(env, argv[1], target, sizeof target, "target")) return NULL;
  if (!get_string(env, argv[2], fstype, sizeof fstype, "fstype")) return NULL;
  uint32_t flags = 0;
  if (argc > 3 && !get_flags(env, argv[3], &flags)) return NULL;
  /* overlay's lowerdir list of a many-layer image outgrows a path buffer */
  char *data = NULL;
  if (argc > 4) {
    napi_valuetype t;
    napi_typeof(env, argv[4], &t);
    if (t != napi_undefined) {
      data = malloc(MOUNT_DATA_MAX);
      if (!data) return berth_throw_errno(env, "mount", ENOMEM);
      if (!get_string(env, argv[4], data, MOUNT_DATA_MAX, "data")) {
        free(data);
        return NULL;
      }
    }
  }
  int rc = mount(source, target, fstype[0] ? fstype : NULL, flags, data);
  int err = errno;
  free(data);
  if (rc != 0) return throw_path_errno(env, "mount", target, NULL, err);
  return NULL;
}

/* umount2(target, flags = 0) */
napi_value berth_fs_umount2(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return throw_type(env, "umount2(target, flags?)");
  char target[PATH_ARG_MAX];
  if (!get_string(env, argv[0], target, sizeof target, "target")) return NULL;
  uint32_t flags = 0;
  if (argc > 1 && !get_flags(env, argv[1], &flags)) return NULL;
  if (umount2(target, (int)flags) != 0) return throw_path_errno(env, "umount2", target, NULL, errno);
  return NULL;
}
