/* Decoding and validation of the init program: a malformed program is refused before
 * any op runs. The encoder is src/runtime/init-program.ts. */
#include "init.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PROGRAM (64u << 20)

/* Argument types per op: i int, s str, b bytes, S strlist, I intlist. */
static const char *const signatures[OP_MAX + 1] = {
  [OP_SETNS] = "si", [OP_SETNS_PID] = "ii", [OP_UNSHARE] = "i", [OP_WRITE_FILE] = "sbii",
  [OP_CLONE] = "ii", [OP_CHILD_WRITE] = "sb", [OP_CHILD_CGROUP] = "s", [OP_CHILD_REPORT] = "",
  [OP_CHILD_PIDFILE] = "s", [OP_RELEASE] = "", [OP_WAIT_CHILD] = "", [OP_EXIT] = "i",
  [OP_SETHOSTNAME] = "s", [OP_SETDOMAINNAME] = "s", [OP_MOUNT] = "sssiss",
  [OP_UMOUNT] = "si", [OP_MKDIR] = "sis", [OP_MKNOD] = "siiii", [OP_SYMLINK] = "ss",
  [OP_TOUCH] = "sis", [OP_PIVOT_ROOT] = "s", [OP_MOVE_ROOT] = "s", [OP_MASK_PATH] = "s",
  [OP_READONLY_PATH] = "s", [OP_CHDIR] = "s", [OP_SETRLIMIT] = "iii", [OP_SETGROUPS] = "I",
  [OP_SETRESGID] = "i", [OP_SETRESUID] = "i", [OP_KEEPCAPS] = "i", [OP_CAP_BOUNDING] = "i",
  [OP_CAPSET] = "iii", [OP_CAP_AMBIENT] = "i", [OP_NO_NEW_PRIVS] = "", [OP_SECCOMP] = "biib",
  [OP_UMASK] = "i", [OP_CLOSE_FDS] = "i", [OP_CONNECT] = "si", [OP_OPEN] = "sii",
  [OP_CONSOLE] = "iii", [OP_WAIT_FIFO] = "i", [OP_SYNC] = "s", [OP_READY] = "",
  [OP_EXEC] = "SSi", [OP_RUN_HOOK] = "sSSbi", [OP_SETSID] = "", [OP_PDEATHSIG] = "i",
  [OP_PERSONALITY] = "i", [OP_CHOWN] = "sii", [OP_JOIN_KEYRING] = "s", [OP_FCHOWN] = "iii", [OP_WAIT_FIFO_AT] = "is",
  [OP_LINK_UP] = "s", [OP_CHILD_JOINED] = "", [OP_WAIT_JOINED] = "", [OP_CLONE_INTO_CGROUP] = "s",
  [OP_PIDFILE_DIR] = "s", [OP_AWAIT_PROGRAM] = "", [OP_WRITE_REG] = "ib", [OP_CHILD_PID_REG] = "i",
};

static const char type_of[128] = { ['i'] = ARG_INT, ['s'] = ARG_STR, ['b'] = ARG_BYTES,
                                   ['S'] = ARG_STRLIST, ['I'] = ARG_INTLIST };

int64_t arg_int(const struct op *o, int i) {
  int64_t v;
  memcpy(&v, o->args[i].p, 8); /* little-endian host (x86_64, aarch64) */
  return v;
}

const char *arg_str(const struct op *o, int i) { return o->args[i].p; }

char **arg_strlist(const struct op *o, int i) {
  const struct arg *a = &o->args[i];
  size_t n = 0;
  for (uint32_t k = 0; k < a->len; k++) n += a->p[k] == 0;
  char **v = calloc(n + 1, sizeof *v);
  if (!v) fail(ENOMEM, "strlist");
  const char *s = a->p;
  for (size_t k = 0; k < n; k++, s += strlen(s) + 1) v[k] = (char *)s;
  return v;
}

static uint32_t le32(const char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* The length of the whole program at the start of buf, 0 while it is not all there; *last
 * is its last op's code. Only lengths are read here: program_load checks the rest. */
static size_t whole_program(const char *buf, size_t len, uint16_t *last) {
  if (len < 16) return 0;
  uint32_t n = le32(buf + 12);
  size_t pos = 16;
  *last = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint16_t argc;
    if (len - pos < 4) return 0;
    memcpy(last, buf + pos, 2);
    memcpy(&argc, buf + pos + 2, 2);
    pos += 4;
    for (uint16_t j = 0; j < argc; j++) {
      if (len - pos < 5) return 0;
      uint32_t l = le32(buf + pos + 1);
      pos += 5;
      if (len - pos < l) return 0;
      pos += l;
    }
  }
  return pos;
}

/* The program's descriptor while a program that ends in AWAIT_PROGRAM waits for the next
 * one, and what was read past that program. */
static int program_fd = -1;
static const char *program_what;
static char *rest;
static size_t nrest;

/* Reads up to the end of a whole program, not to EOF: the sender's end of the stream may come
 * a while after its bytes (berthd shuts a socket down a loop turn after the write), and the
 * program is self-delimiting. One that ends in AWAIT_PROGRAM keeps the descriptor: the next
 * program follows on it, later (berthd sends a launch's first part ahead). A truncated one
 * is read to EOF and refused by program_parse. */
static char *read_program(int fd, const char *what, size_t *len) {
  size_t cap = nrest > 4096 ? nrest : 4096, n = nrest;
  char *buf = malloc(cap);
  if (!buf) fail(ENOMEM, "read program `", what, "`");
  if (nrest) memcpy(buf, rest, nrest);
  free(rest);
  rest = NULL;
  nrest = 0;
  for (;;) {
    uint16_t last;
    size_t whole = whole_program(buf, n, &last);
    if (whole && last == OP_AWAIT_PROGRAM) {
      if (n > whole) {
        if (!(rest = malloc(n - whole))) fail(ENOMEM, "read program `", what, "`");
        memcpy(rest, buf + whole, n - whole);
        nrest = n - whole;
      }
      program_fd = fd;
      program_what = what;
      *len = whole;
      return buf;
    }
    if (whole) {
      if (n > whole) fail(EINVAL, "malformed init program: trailing bytes after the last op");
      break;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(errno, "read program `", what, "`");
    if (r == 0) break;
    n += (size_t)r;
    if (n == cap) {
      if (cap >= MAX_PROGRAM) fail(EFBIG, "read program `", what, "`");
      if (!(buf = realloc(buf, cap *= 2))) fail(ENOMEM, "read program `", what, "`");
    }
  }
  close(fd);
  program_fd = -1;
  *len = n;
  return buf;
}

#define bad(...) fail(EINVAL, "malformed init program: ", __VA_ARGS__)

static void check_arg(size_t i, const struct op *o, int j, char want) {
  const struct arg *a = &o->args[j];
  const char *at = msg("op #", num((long long)i), " (code ", num(o->code), ") argument ", num(j), NULL);
  char at_copy[128];
  strncpy(at_copy, at, sizeof at_copy - 1);
  at_copy[sizeof at_copy - 1] = 0;
  if (a->type != type_of[(int)want]) bad(at_copy, ": wrong type");
  switch (a->type) {
  case ARG_INT:
    if (a->len != 8) bad(at_copy, ": int is not 8 bytes");
    break;
  case ARG_STR:
    if (a->len == 0 || memchr(a->p, 0, a->len) != a->p + a->len - 1) bad(at_copy, ": bad str");
    break;
  case ARG_STRLIST:
    if (a->len && a->p[a->len - 1]) bad(at_copy, ": strlist not NUL-terminated");
    break;
  case ARG_INTLIST:
    if (a->len % 8) bad(at_copy, ": intlist length");
    break;
  }
}

/* The parent ops (i, end] of the CLONE at i: exactly one RELEASE; the child runs from it
 * on, so the id maps come before it, and cgroups joined after it need a later CHILD_JOINED
 * (at most one, after RELEASE). Returns whether the child must WAIT_JOINED. */
static int check_parent_ops(const struct op *ops, size_t i, size_t end) {
  const char *at = num((long long)i);
  size_t release = 0, joined = 0, late_cgroup = 0;
  for (size_t j = i + 1; j <= end; j++) {
    switch (ops[j].code) {
    case OP_RELEASE:
      if (release) bad("op #", at, ": parent ops have two RELEASE");
      release = j;
      break;
    case OP_CHILD_WRITE:
      if (release) bad("op #", at, ": CHILD_WRITE after RELEASE (the child's maps must be in place when it runs)");
      break;
    case OP_CHILD_CGROUP:
      if (release) late_cgroup = j;
      break;
    case OP_CHILD_JOINED:
      if (!release) bad("op #", at, ": CHILD_JOINED before RELEASE");
      if (joined) bad("op #", at, ": parent ops have two CHILD_JOINED");
      joined = j;
      break;
    }
  }
  if (!release) bad("op #", at, ": parent ops lack RELEASE");
  if (late_cgroup > joined) bad("op #", at, ": CHILD_CGROUP after RELEASE without a CHILD_JOINED after it");
  return joined != 0;
}

/* Structure: CLONE ranges in bounds, ending in EXIT or WAIT_CHILD (check_parent_ops);
 * parent-only ops only in a parent range; WAIT_JOINED once in the child of a CLONE whose
 * parent sends CHILD_JOINED, before any further CLONE; register numbers valid; SECCOMP
 * filters whole. */
static void check_structure(const struct op *ops, size_t n) {
  size_t parent_end = 0; /* ops [i, parent_end) belong to the parent of the last CLONE */
  int join_due = 0;      /* the child of the last CLONE has yet to WAIT_JOINED */
  for (size_t i = 0; i < n; i++) {
    const struct op *o = &ops[i];
    const char *at = num((long long)i);
    switch (o->code) {
    case OP_CLONE: {
      int64_t k = arg_int(o, 1);
      if (i < parent_end) bad("op #", at, ": CLONE inside the parent ops of a CLONE");
      if (join_due) bad("op #", at, ": CLONE before the WAIT_JOINED of the previous CLONE's child");
      if (k < 2 || (uint64_t)k >= n - i) bad("op #", at, ": CLONE parent_ops out of range");
      uint16_t last = ops[i + (size_t)k].code;
      if (last != OP_EXIT && last != OP_WAIT_CHILD) bad("op #", at, ": parent ops must end in EXIT or WAIT_CHILD");
      join_due = check_parent_ops(ops, i, i + (size_t)k);
      parent_end = i + (size_t)k + 1;
      break;
    }
    case OP_CHILD_WRITE: case OP_CHILD_CGROUP: case OP_CHILD_REPORT: case OP_CHILD_PIDFILE:
    case OP_RELEASE: case OP_WAIT_CHILD: case OP_CHILD_JOINED: case OP_CHILD_PID_REG:
      if (i >= parent_end) bad("op #", at, ": child op outside the parent ops of a CLONE");
      if (o->code == OP_CHILD_PID_REG && (arg_int(o, 0) < 0 || arg_int(o, 0) >= NREGS)) bad("op #", at, ": register out of range");
      break;
    case OP_CLONE_INTO_CGROUP:
      if (i < parent_end) bad("op #", at, ": CLONE_INTO_CGROUP inside the parent ops of a CLONE");
      /* SETNS_PID may come between: the directory is opened in the host's mount namespace;
       * in a launch's first part, up to AWAIT_PROGRAM, what it does ahead (the CLONE is the
       * next program's first) */
      for (size_t j = i + 1;; j++) {
        uint16_t c = j < n ? ops[j].code : 0;
        if (c == OP_CLONE || c == OP_AWAIT_PROGRAM) break;
        if (c != OP_SETNS_PID && c != OP_JOIN_KEYRING && c != OP_CAP_BOUNDING && c != OP_SECCOMP && c != OP_OPEN && c != OP_PIDFILE_DIR)
          bad("op #", at, ": CLONE_INTO_CGROUP not followed by CLONE");
      }
      break;
    case OP_AWAIT_PROGRAM:
      if (i + 1 != n || i < parent_end) bad("op #", at, ": AWAIT_PROGRAM is not the last op, outside parent ops");
      break;
    case OP_WRITE_REG:
      if (arg_int(o, 0) < 0 || arg_int(o, 0) >= NREGS) bad("op #", at, ": register out of range");
      break;
    case OP_WAIT_JOINED:
      if (i < parent_end) bad("op #", at, ": WAIT_JOINED inside the parent ops of a CLONE");
      if (!join_due) bad("op #", at, ": WAIT_JOINED without a CHILD_JOINED in the parent ops of its CLONE");
      join_due = 0;
      break;
    case OP_CONNECT: case OP_OPEN: case OP_CONSOLE: case OP_WAIT_FIFO: case OP_WAIT_FIFO_AT: {
      int ri = o->code == OP_OPEN ? 2 : o->code == OP_CONNECT ? 1 : 0;
      int64_t r = arg_int(o, ri);
      if (r < 0 || r >= NREGS) bad("op #", at, ": register out of range");
      break;
    }
    case OP_EXEC:
      if (o->args[0].len == 0) bad("op #", at, ": EXEC with an empty argv");
      break;
    case OP_SECCOMP:
      if (o->args[0].len == 0 || o->args[0].len % 8 || o->args[0].len / 8 > 65535)
        bad("op #", at, ": SECCOMP filter is not an array of sock_filter");
      if (arg_int(o, 2) < -1 || arg_int(o, 2) >= NREGS) bad("op #", at, ": register out of range");
      break;
    }
  }
  if (join_due) bad("the child of the last CLONE lacks WAIT_JOINED");
}

static size_t program_parse(char *buf, size_t len, struct op **out);

size_t program_load(const char *path, struct op **out) {
  int fd;
  const char *fdpath = "/proc/self/fd/";
  size_t pl = strlen(fdpath), len;
  /* /proc/self/fd/N is read from descriptor N itself, which may be a socket. */
  if (!strncmp(path, fdpath, pl) && path[pl] && strspn(path + pl, "0123456789") == strlen(path + pl))
    fd = atoi(path + pl);
  else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
    fail(errno, "open program `", path, "`");
  char *buf = read_program(fd, path, &len);
  return program_parse(buf, len, out);
}

size_t program_next(struct op **out) {
  size_t len;
  if (program_fd < 0) fail(EINVAL, "AWAIT_PROGRAM without a program descriptor");
  char *buf = read_program(program_fd, program_what, &len);
  if (len == 0) fail(ECANCELED, "the launch was cancelled (no program after AWAIT_PROGRAM)");
  return program_parse(buf, len, out);
}

static size_t program_parse(char *buf, size_t len, struct op **out) {
  size_t pos = 16;
  if (len < 16 || memcmp(buf, "BRTHINIT", 8)) bad("bad magic");
  if (le32(buf + 8) != 1) bad("unsupported version ", num(le32(buf + 8)));
  uint32_t n = le32(buf + 12);
  if (n > len / 4) bad("op count ", num(n), " exceeds the program size");
  struct op *ops = calloc(n ? n : 1, sizeof *ops);
  if (!ops) fail(ENOMEM, "load program");
  for (uint32_t i = 0; i < n; i++) {
    struct op *o = &ops[i];
    if (len - pos < 4) bad("truncated");
    memcpy(&o->code, buf + pos, 2);
    memcpy(&o->argc, buf + pos + 2, 2);
    pos += 4;
    const char *sig = o->code <= OP_MAX ? signatures[o->code] : NULL;
    if (!sig) bad("op #", num(i), ": unknown op code ", num(o->code));
    if (o->argc != strlen(sig)) bad("op #", num(i), ": expected ", num((long long)strlen(sig)), " arguments, got ", num(o->argc));
    struct arg *args = calloc(o->argc ? o->argc : 1, sizeof *args);
    if (!args) fail(ENOMEM, "load program");
    for (int j = 0; j < o->argc; j++) {
      if (len - pos < 5) bad("truncated");
      args[j].type = (uint8_t)buf[pos];
      args[j].len = le32(buf + pos + 1);
      pos += 5;
      if (len - pos < args[j].len) bad("truncated");
      args[j].p = buf + pos;
      pos += args[j].len;
    }
    o->args = args;
    for (int j = 0; j < o->argc; j++) check_arg(i, o, j, sig[j]);
  }
  if (pos != len) bad("trailing bytes after the last op");
  check_structure(ops, n);
  *out = ops;
  return n;
}
