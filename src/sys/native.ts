import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

// The thin TypeScript face of native/addon (built by node-gyp into build/Release).

export interface SeccompRuleArg {
  /** Argument index, 0-5. */
  index: number;
  /** datum_a: the value compared with (the mask for MASKED_EQ). */
  value: bigint;
  /** datum_b: the value the masked argument must equal (MASKED_EQ only). */
  valueTwo: bigint;
  /** SCMP_CMP_* as a number (see src/runtime/seccomp-constants.ts). */
  op: number;
}
export interface SeccompRule {
  /** A syscall name that libseccomp resolves for the native architecture (an error when it cannot). */
  syscall: string;
  /** SCMP_ACT_* encoded as libseccomp does (action | data). */
  action: number;
  /** Compared together (AND); at most 6, at most one per argument index. */
  args: SeccompRuleArg[];
}
export interface SeccompProgram {
  defaultAction: number;
  /** Arch tokens (AUDIT_ARCH_* values); the native one is always included, listed or not. */
  architectures: number[];
  /** Added in order with seccomp_rule_add_array. */
  rules: SeccompRule[];
  /** libseccomp filter attributes to set (SCMP_FLTATR_*), as [attr, value] pairs. */
  attributes: [number, number][];
}
/**
 * What seccompCompile and seccompResolve throw: a plain Error whose message names the
 * failure; `code` is the errno name, `ruleIndex`/`archIndex` point into the program.
 */
export interface SeccompNativeError extends Error {
  code?: string;
  ruleIndex?: number;
  archIndex?: number;
}

export interface NativeAddon {
  /**
   * Compiles a filter with libseccomp (dlopen'ed at first use) and returns the classic BPF
   * program (struct sock_filter[]). Throws SeccompNativeError; when libseccomp.so.2 is
   * missing the message says to install Debian's libseccomp2.
   */
  seccompCompile(program: SeccompProgram): Buffer;
  /**
   * Resolves a syscall name for the native architecture, or for the arch token given.
   * -1 when libseccomp does not know the name there; other negative numbers are
   * libseccomp's pseudo-syscalls (a syscall of another architecture, or a multiplexed one
   * such as socketcall), which seccompCompile accepts.
   */
  seccompResolve(name: string, arch?: number): number;
  /**
   * Loads an eBPF BPF_PROG_TYPE_CGROUP_DEVICE program (struct bpf_insn[]) and attaches it to the
   * cgroup v2 directory at path, replacing any program Berth attached before.
   */
  bpfDeviceAttach(cgroupPath: string, insns: Buffer, license: string): void;
  // Descriptor passing and terminal sizes (native/addon/fdpass.c).
  /**
   * Receives one message from a unix socket (MSG_DONTWAIT|MSG_CMSG_CLOEXEC): its first
   * SCM_RIGHTS descriptor and its data; null when nothing is queued. Throws (code ENOMSG)
   * when the message carries no descriptor or the peer closed the socket.
   */
  recvFd(socketFd: number): { fd: number; name: string } | null;
  /** A connected pair of unix stream sockets (close-on-exec). */
  socketPair(): [number, number];
  /**
   * Connects to the unix socket at path, sends data with fds (SCM_RIGHTS, 1 to 16) in one
   * message and closes the connection. Never blocks: EAGAIN when the backlog is full. Given
   * a connected socket's fd instead of a path, sends on it and leaves it open (EAGAIN when
   * its buffer cannot take the message).
   */
  sendFds(target: string | number, data: Buffer, fds: number[]): void;
  /** TIOCGWINSZ of a terminal fd (throws ENOTTY for anything else). */
  getWinsize(fd: number): { rows: number; cols: number };
  /** TIOCSWINSZ of a terminal fd. */
  setWinsize(fd: number, rows: number, cols: number): void;
  /**
   * cfmakeraw on a terminal fd (no echo, no line editing, no signals from keys, no output
   * processing); returns the termios it had, for ttyRestore.
   */
  ttyMakeRaw(fd: number): Buffer;
  /** Puts back a termios that ttyMakeRaw returned. */
  ttyRestore(fd: number, saved: Buffer): void;
  // Filesystem (native/addon/fs.c): errors are Errors "<call> <path>: <strerror>" with .code.
  /** Sets an extended attribute of the path itself (a symlink is not followed); flags are XATTR_CREATE/XATTR_REPLACE. */
  lsetxattr(path: string, name: string, value: Buffer, flags?: number): void;
  /** The raw value of an extended attribute, or null when the path has none of that name. */
  lgetxattr(path: string, name: string): Buffer | null;
  /** The names of the path's extended attributes (those the caller may read). */
  llistxattr(path: string): string[];
  /** mknod(2): `mode` includes the file type bits (S_IFCHR, S_IFBLK, S_IFIFO, S_IFREG). */
  mknod(path: string, mode: number, major?: number, minor?: number): void;
  /** mount(2) (synchronous: one syscall, far cheaper than spawning mount(8)); flags are MS_*. */
  mount(source: string, target: string, fstype: string, flags?: number, data?: string): void;
  /** umount2(2); flags are MNT_* / UMOUNT_*. */
  umount2(target: string, flags?: number): void;
}

let cached: NativeAddon | undefined;

export function nativeAddon(): NativeAddon {
  if (cached) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/src/sys → repo root
  const path = process.env.BERTH_ADDON ?? join(here, '..', '..', '..', 'build', 'Release', 'berth_addon.node');
  const require = createRequire(import.meta.url);
  cached = require(path) as NativeAddon;
  return cached;
}
