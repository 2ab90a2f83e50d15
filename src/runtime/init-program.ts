// Encoder for the init program executed by native/init (berth-init).
// The format is specified in docs/init-program.md; keep both in step.

export const INIT_PROGRAM_MAGIC = 'BRTHINIT';
export const INIT_PROGRAM_VERSION = 1;

export enum OpCode {
  SETNS = 1,
  SETNS_PID = 2,
  UNSHARE = 3,
  WRITE_FILE = 4,
  CLONE = 5,
  CHILD_WRITE = 6,
  CHILD_CGROUP = 7,
  CHILD_REPORT = 8,
  CHILD_PIDFILE = 9,
  RELEASE = 10,
  WAIT_CHILD = 11,
  EXIT = 12,
  SETHOSTNAME = 13,
  SETDOMAINNAME = 14,
  MOUNT = 15,
  UMOUNT = 16,
  MKDIR = 17,
  MKNOD = 18,
  SYMLINK = 19,
  TOUCH = 20,
  PIVOT_ROOT = 21,
  MOVE_ROOT = 22,
  MASK_PATH = 23,
  READONLY_PATH = 24,
  CHDIR = 25,
  SETRLIMIT = 26,
  SETGROUPS = 27,
  SETRESGID = 28,
  SETRESUID = 29,
  KEEPCAPS = 30,
  CAP_BOUNDING = 31,
  CAPSET = 32,
  CAP_AMBIENT = 33,
  NO_NEW_PRIVS = 34,
  SECCOMP = 35,
  UMASK = 36,
  CLOSE_FDS = 37,
  CONNECT = 38,
  OPEN = 39,
  CONSOLE = 40,
  WAIT_FIFO = 41,
  SYNC = 42,
  READY = 43,
  EXEC = 44,
  RUN_HOOK = 45,
  SETSID = 46,
  PDEATHSIG = 47,
  PERSONALITY = 48,
  CHOWN = 49,
  JOIN_KEYRING = 50,
  FCHOWN = 51,
  WAIT_FIFO_AT = 52,
  LINK_UP = 53,
  CHILD_JOINED = 54,
  WAIT_JOINED = 55,
  CLONE_INTO_CGROUP = 56,
  PIDFILE_DIR = 57,
  AWAIT_PROGRAM = 58,
  WRITE_REG = 59,
  CHILD_PID_REG = 60,
}

export enum ArgType {
  Int = 1,
  Str = 2,
  Bytes = 3,
  StrList = 4,
  IntList = 5,
}

export type Arg =
  | { type: ArgType.Int; value: bigint }
  | { type: ArgType.Str; value: string }
  | { type: ArgType.Bytes; value: Uint8Array }
  | { type: ArgType.StrList; value: readonly string[] }
  | { type: ArgType.IntList; value: readonly bigint[] };

export interface Op {
  code: OpCode;
  args: Arg[];
}

/** Argument constructors, so that compilers read as a list of ops. */
export const int = (value: number | bigint): Arg => ({ type: ArgType.Int, value: BigInt(value) });
export const str = (value: string): Arg => ({ type: ArgType.Str, value });
export const bytes = (value: Uint8Array | string): Arg => ({
  type: ArgType.Bytes,
  value: typeof value === 'string' ? Buffer.from(value) : value,
});
export const strlist = (value: readonly string[]): Arg => ({ type: ArgType.StrList, value });
export const intlist = (value: readonly (number | bigint)[]): Arg => ({
  type: ArgType.IntList,
  value: value.map((v) => BigInt(v)),
});

export const op = (code: OpCode, ...args: Arg[]): Op => ({ code, args });

/** The `dev` argument of MKNOD: the kernel's dev_t encoding of major:minor (glibc's makedev). */
export const makeDev = (major: number, minor: number): bigint =>
  ((BigInt(major) & 0xfffff000n) << 32n) |
  ((BigInt(major) & 0xfffn) << 8n) |
  ((BigInt(minor) & 0xffffff00n) << 12n) |
  (BigInt(minor) & 0xffn);

/** The signature of every op: the argument types, in order (docs/init-program.md). */
const I = ArgType.Int, S = ArgType.Str, B = ArgType.Bytes, SL = ArgType.StrList, IL = ArgType.IntList;
export const OP_SIGNATURES: Readonly<Record<OpCode, readonly ArgType[]>> = {
  [OpCode.SETNS]: [S, I],
  [OpCode.SETNS_PID]: [I, I],
  [OpCode.UNSHARE]: [I],
  [OpCode.WRITE_FILE]: [S, B, I, I],
  [OpCode.CLONE]: [I, I],
  [OpCode.CHILD_WRITE]: [S, B],
  [OpCode.CHILD_CGROUP]: [S],
  [OpCode.CHILD_REPORT]: [],
  [OpCode.CHILD_PIDFILE]: [S],
  [OpCode.RELEASE]: [],
  [OpCode.WAIT_CHILD]: [],
  [OpCode.EXIT]: [I],
  [OpCode.SETHOSTNAME]: [S],
  [OpCode.SETDOMAINNAME]: [S],
  [OpCode.MOUNT]: [S, S, S, I, S, S],
  [OpCode.UMOUNT]: [S, I],
  [OpCode.MKDIR]: [S, I, S],
  [OpCode.MKNOD]: [S, I, I, I, I],
  [OpCode.SYMLINK]: [S, S],
  [OpCode.TOUCH]: [S, I, S],
  [OpCode.PIVOT_ROOT]: [S],
  [OpCode.MOVE_ROOT]: [S],
  [OpCode.MASK_PATH]: [S],
  [OpCode.READONLY_PATH]: [S],
  [OpCode.CHDIR]: [S],
  [OpCode.SETRLIMIT]: [I, I, I],
  [OpCode.SETGROUPS]: [IL],
  [OpCode.SETRESGID]: [I],
  [OpCode.SETRESUID]: [I],
  [OpCode.KEEPCAPS]: [I],
  [OpCode.CAP_BOUNDING]: [I],
  [OpCode.CAPSET]: [I, I, I],
  [OpCode.CAP_AMBIENT]: [I],
  [OpCode.NO_NEW_PRIVS]: [],
  [OpCode.SECCOMP]: [B, I, I, B],
  [OpCode.UMASK]: [I],
  [OpCode.CLOSE_FDS]: [I],
  [OpCode.CONNECT]: [S, I],
  [OpCode.OPEN]: [S, I, I],
  [OpCode.CONSOLE]: [I, I, I],
  [OpCode.WAIT_FIFO]: [I],
  [OpCode.SYNC]: [S],
  [OpCode.READY]: [],
  [OpCode.EXEC]: [SL, SL, I],
  [OpCode.RUN_HOOK]: [S, SL, SL, B, I],
  [OpCode.SETSID]: [],
  [OpCode.PDEATHSIG]: [I],
  [OpCode.PERSONALITY]: [I],
  [OpCode.CHOWN]: [S, I, I],
  [OpCode.JOIN_KEYRING]: [S],
  [OpCode.FCHOWN]: [I, I, I],
  [OpCode.WAIT_FIFO_AT]: [I, S],
  [OpCode.LINK_UP]: [S],
  [OpCode.CHILD_JOINED]: [],
  [OpCode.WAIT_JOINED]: [],
  [OpCode.CLONE_INTO_CGROUP]: [S],
  [OpCode.PIDFILE_DIR]: [S],
  [OpCode.AWAIT_PROGRAM]: [],
  [OpCode.WRITE_REG]: [I, B],
  [OpCode.CHILD_PID_REG]: [I],
};

export class InitProgramError extends Error {}

function checkSignature(o: Op, index: number): void {
  const sig = OP_SIGNATURES[o.code];
  if (!sig) throw new InitProgramError(`op #${index}: unknown op code ${o.code}`);
  if (sig.length !== o.args.length || sig.some((t, i) => o.args[i]!.type !== t)) {
    throw new InitProgramError(
      `op #${index} (${OpCode[o.code]}): expected argument types [${sig.map((t) => ArgType[t]).join(', ')}], ` +
        `got [${o.args.map((a) => ArgType[a.type]).join(', ')}]`,
    );
  }
  for (const a of o.args) {
    if ((a.type === ArgType.Str && a.value.includes('\0')) || (a.type === ArgType.StrList && a.value.some((s) => s.includes('\0')))) {
      throw new InitProgramError(`op #${index} (${OpCode[o.code]}): a string argument contains a NUL byte`);
    }
  }
}

function argPayload(a: Arg): Buffer {
  switch (a.type) {
    case ArgType.Int: {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(a.value);
      return b;
    }
    case ArgType.Str:
      return Buffer.from(a.value + '\0');
    case ArgType.Bytes:
      return Buffer.from(a.value.buffer, a.value.byteOffset, a.value.byteLength);
    case ArgType.StrList:
      return Buffer.from(a.value.map((s) => s + '\0').join(''));
    case ArgType.IntList: {
      const b = Buffer.alloc(8 * a.value.length);
      a.value.forEach((v, i) => b.writeBigInt64LE(v, i * 8));
      return b;
    }
  }
}

/** Encodes a program; throws InitProgramError when an op does not match its signature. */
export function encodeInitProgram(ops: readonly Op[]): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(16);
  header.write(INIT_PROGRAM_MAGIC, 0, 'latin1');
  header.writeUInt32LE(INIT_PROGRAM_VERSION, 8);
  header.writeUInt32LE(ops.length, 12);
  parts.push(header);
  ops.forEach((o, i) => {
    checkSignature(o, i);
    const h = Buffer.alloc(4);
    h.writeUInt16LE(o.code, 0);
    h.writeUInt16LE(o.args.length, 2);
    parts.push(h);
    for (const a of o.args) {
      const payload = argPayload(a);
      const ah = Buffer.alloc(5);
      ah.writeUInt8(a.type, 0);
      ah.writeUInt32LE(payload.length, 1);
      parts.push(ah, payload);
    }
  });
  return Buffer.concat(parts);
}

/** Decodes a program (used by tests and by `berth-runc` debugging output). */
export function decodeInitProgram(buf: Buffer): Op[] {
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== INIT_PROGRAM_MAGIC) {
    throw new InitProgramError('not an init program: bad magic');
  }
  const version = buf.readUInt32LE(8);
  if (version !== INIT_PROGRAM_VERSION) throw new InitProgramError(`unsupported init program version ${version}`);
  const count = buf.readUInt32LE(12);
  let pos = 16;
  const need = (n: number): void => {
    if (pos + n > buf.length) throw new InitProgramError('truncated init program');
  };
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    need(4);
    const code = buf.readUInt16LE(pos) as OpCode;
    const argc = buf.readUInt16LE(pos + 2);
    pos += 4;
    const args: Arg[] = [];
    for (let j = 0; j < argc; j++) {
      need(5);
      const type = buf.readUInt8(pos) as ArgType;
      const len = buf.readUInt32LE(pos + 1);
      pos += 5;
      need(len);
      const p = buf.subarray(pos, pos + len);
      pos += len;
      switch (type) {
        case ArgType.Int:
          args.push({ type, value: p.readBigInt64LE(0) });
          break;
        case ArgType.Str:
          args.push({ type, value: p.toString('utf8', 0, len - 1) });
          break;
        case ArgType.Bytes:
          args.push({ type, value: Buffer.from(p) });
          break;
        case ArgType.StrList: {
          const s = p.toString('utf8');
          args.push({ type, value: s.length === 0 ? [] : s.slice(0, -1).split('\0') });
          break;
        }
        case ArgType.IntList: {
          const v: bigint[] = [];
          for (let k = 0; k < len; k += 8) v.push(p.readBigInt64LE(k));
          args.push({ type, value: v });
          break;
        }
        default:
          throw new InitProgramError(`op #${i}: unknown argument type ${type as number}`);
      }
    }
    const o = { code, args };
    checkSignature(o, i);
    ops.push(o);
  }
  if (pos !== buf.length) throw new InitProgramError('trailing bytes after the last op');
  return ops;
}
