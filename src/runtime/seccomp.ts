// OCI linux.seccomp → a classic BPF filter, built by libseccomp through the native addon.
//
// All policy lives here: which actions and errnos, which rules are skipped (unknown to this
// libseccomp, or equal to the default action), how repeated argument indexes combine, which
// seccomp(2) flags berth-init passes. native/addon/seccomp.c only builds what it is told.
// Decisions and their reasons: docs/seccomp.md.

import { invalidParameter, systemError, unavailable, BerthError } from '../errors.js';
import { nativeAddon, type SeccompNativeError, type SeccompProgram, type SeccompRule, type SeccompRuleArg } from '../sys/native.js';
import type { LinuxSeccomp, LinuxSeccompAction } from './spec/types.js';
import {
  SCMP_ACT_ALLOW,
  SCMP_ACT_KILL_PROCESS,
  SCMP_ACT_KILL_THREAD,
  SCMP_ACT_LOG,
  SCMP_ACT_NOTIFY,
  SCMP_ACT_TRAP,
  SCMP_ARCH,
  SCMP_CMP,
  SCMP_FLTATR_CTL_OPTIMIZE,
  SECCOMP_FILTER_FLAG_TSYNC,
  SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
  SECCOMP_FLAGS,
  SYSCALLS_NEWER_THAN_LIBSECCOMP,
  scmpActErrno,
  scmpActTrace,
} from './seccomp-constants.js';

export type { LinuxSeccomp } from './spec/types.js';

/** What the SECCOMP op of the init program needs (docs/init-program.md, op 35). */
export interface CompiledSeccomp {
  /** struct sock_filter[], ready for seccomp(SECCOMP_SET_MODE_FILTER). */
  filter: Buffer;
  /** SECCOMP_FILTER_FLAG_* for seccomp(2); berth-init adds NEW_LISTENER itself. */
  flags: number;
  /** Unix socket to send the notify fd to; empty when no rule uses SCMP_ACT_NOTIFY. */
  listenerPath: string;
  /** The OCI ContainerProcessState sent with the notify fd (with a `${pid}` token); empty without a listener. */
  listenerMessage: Buffer;
}

/** How syscall names are looked up; the default asks libseccomp through the addon. */
export interface SyscallResolver {
  /** The number for the native architecture, or for the arch token given; -1 when unknown there. */
  resolve(name: string, arch?: number): number;
}

const EPERM = 1;
/** The OCI runtime-spec version written into the ContainerProcessState when the state has none. */
export const SECCOMP_STATE_OCI_VERSION = '1.2.0';
/** Above this many rules, ask libseccomp for a binary-tree filter (as runc does). */
const OPTIMIZE_ABOVE_RULES = 32;
/**
 * Syscalls that must not use SCMP_ACT_NOTIFY: between seccomp(2) and sending the notify fd
 * berth-init sends it with sendmsg and reports errors with write; a notified call there
 * would wait forever for a listener that has no fd yet.
 */
const NOTIFY_FORBIDDEN = new Set(['write', 'sendmsg']);

const ACTIONS: ReadonlySet<string> = new Set<LinuxSeccompAction>([
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
]);

const addonResolver: SyscallResolver = {
  resolve: (name, arch) => callAddon(() => (arch === undefined ? nativeAddon().seccompResolve(name) : nativeAddon().seccompResolve(name, arch))),
};

function callAddon<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const err = e as SeccompNativeError;
    if (err.code === 'ENOENT' || err.code === 'ENOSYS') throw unavailable(err.message);
    throw e;
  }
}

const isUint = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;

/** The libseccomp encoding of an OCI action; errnoRet is the ERRNO errno or the TRACE value (default EPERM). */
export function seccompAction(action: LinuxSeccompAction, errnoRet: number | undefined): number {
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return SCMP_ACT_KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return SCMP_ACT_KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return SCMP_ACT_TRAP;
    case 'SCMP_ACT_ERRNO':
      return scmpActErrno(errnoRet ?? EPERM);
    case 'SCMP_ACT_TRACE':
      return scmpActTrace(errnoRet ?? EPERM);
    case 'SCMP_ACT_ALLOW':
      return SCMP_ACT_ALLOW;
    case 'SCMP_ACT_LOG':
      return SCMP_ACT_LOG;
    case 'SCMP_ACT_NOTIFY':
      return SCMP_ACT_NOTIFY;
  }
}

function checkAction(action: unknown, errnoRet: unknown, actionField: string, errnoField: string): void {
  if (typeof action !== 'string' || !ACTIONS.has(action)) {
    throw invalidParameter(`${actionField}: unknown seccomp action ${JSON.stringify(action)}`);
  }
  if (errnoRet === undefined || errnoRet === null) return;
  if (action !== 'SCMP_ACT_ERRNO' && action !== 'SCMP_ACT_TRACE') {
    throw invalidParameter(`${errnoField}: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not ${action}`);
  }
  if (!isUint(errnoRet, 0xffff)) throw invalidParameter(`${errnoField}: ${JSON.stringify(errnoRet)} is not an errno (0-65535)`);
}

const knownNames = new Map<string, boolean>();

/** Whether name is a Linux system call on any architecture (libseccomp's tables, plus newer ones). */
export function isKnownSyscall(name: string, resolver: SyscallResolver = addonResolver): boolean {
  if (SYSCALLS_NEWER_THAN_LIBSECCOMP.has(name)) return true;
  const cache = resolver === addonResolver ? knownNames : undefined;
  const hit = cache?.get(name);
  if (hit !== undefined) return hit;
  const known = resolver.resolve(name) !== -1 || Object.values(SCMP_ARCH).some((arch) => resolver.resolve(name, arch) !== -1);
  cache?.set(name, known);
  return known;
}

/**
 * Checks a linux.seccomp section and throws an InvalidParameter error naming the field
 * (`linux.seccomp.syscalls[3].names[0]: unknown syscall "fooo"`). A name that is a system
 * call on some architecture passes, even when this machine's architecture lacks it.
 * Stricter than compileSeccomp, which (as runc does) leaves unknown names out silently.
 */
export function validateSeccomp(seccomp: LinuxSeccomp, field = 'linux.seccomp', resolver: SyscallResolver = addonResolver): void {
  checkSeccomp(seccomp, field, resolver);
}

/** Checks the shape of linux.seccomp, and its syscall names too when a resolver is given. */
function checkSeccomp(seccomp: LinuxSeccomp, field: string, names: SyscallResolver | undefined): void {
  if (typeof seccomp !== 'object' || seccomp === null) throw invalidParameter(`${field}: must be an object`);
  checkAction(seccomp.defaultAction, seccomp.defaultErrnoRet, `${field}.defaultAction`, `${field}.defaultErrnoRet`);
  if (seccomp.defaultAction === 'SCMP_ACT_NOTIFY') {
    throw invalidParameter(`${field}.defaultAction: SCMP_ACT_NOTIFY cannot be the default action (berth-init could not hand over the listener fd)`);
  }
  const list = (v: unknown, name: string): unknown[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw invalidParameter(`${field}.${name}: must be an array`);
    return v;
  };
  list(seccomp.architectures, 'architectures').forEach((a, i) => {
    if (typeof a !== 'string' || SCMP_ARCH[a] === undefined) {
      throw invalidParameter(`${field}.architectures[${i}]: unknown architecture ${JSON.stringify(a)}`);
    }
  });
  list(seccomp.flags, 'flags').forEach((f, i) => {
    if (typeof f !== 'string' || SECCOMP_FLAGS[f] === undefined) {
      throw invalidParameter(`${field}.flags[${i}]: unknown seccomp flag ${JSON.stringify(f)}`);
    }
  });
  if (seccomp.listenerPath !== undefined && typeof seccomp.listenerPath !== 'string') {
    throw invalidParameter(`${field}.listenerPath: must be a string`);
  }
  if (seccomp.listenerMetadata !== undefined && typeof seccomp.listenerMetadata !== 'string') {
    throw invalidParameter(`${field}.listenerMetadata: must be a string`);
  }
  list(seccomp.syscalls, 'syscalls').forEach((raw, i) => {
    const at = `${field}.syscalls[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw invalidParameter(`${at}: must be an object`);
    const sc = raw as NonNullable<LinuxSeccomp['syscalls']>[number];
    checkAction(sc.action, sc.errnoRet, `${at}.action`, `${at}.errnoRet`);
    if (!Array.isArray(sc.names) || sc.names.length === 0) throw invalidParameter(`${at}.names: must list at least one syscall`);
    sc.names.forEach((name, j) => {
      if (typeof name !== 'string' || name === '') throw invalidParameter(`${at}.names[${j}]: must be a syscall name`);
      if (names && !isKnownSyscall(name, names)) throw invalidParameter(`${at}.names[${j}]: unknown syscall ${JSON.stringify(name)}`);
      if (sc.action === 'SCMP_ACT_NOTIFY' && NOTIFY_FORBIDDEN.has(name)) {
        throw invalidParameter(`${at}.names[${j}]: SCMP_ACT_NOTIFY cannot be used for ${name} (berth-init needs it to hand over the listener fd)`);
      }
    });
    const args = sc.args ?? [];
    if (!Array.isArray(args)) throw invalidParameter(`${at}.args: must be an array`);
    if (args.length > 6) throw invalidParameter(`${at}.args: at most 6 comparisons, got ${args.length}`);
    args.forEach((a, k) => {
      const aat = `${at}.args[${k}]`;
      if (typeof a !== 'object' || a === null) throw invalidParameter(`${aat}: must be an object`);
      if (!isUint(a.index, 5)) throw invalidParameter(`${aat}.index: ${JSON.stringify(a.index)} is not an argument index (0-5)`);
      if (typeof a.op !== 'string' || SCMP_CMP[a.op] === undefined) throw invalidParameter(`${aat}.op: unknown comparison ${JSON.stringify(a.op)}`);
      toDatum(a.value, `${aat}.value`);
      if (a.valueTwo !== undefined && a.valueTwo !== null) toDatum(a.valueTwo, `${aat}.valueTwo`);
    });
  });
  if (usesNotify(seccomp) && !seccomp.listenerPath) {
    const i = (seccomp.syscalls ?? []).findIndex((s) => s.action === 'SCMP_ACT_NOTIFY');
    throw invalidParameter(`${field}.listenerPath: required because ${field}.syscalls[${i}] uses SCMP_ACT_NOTIFY`);
  }
}

/** A comparison datum: a u64, given as a JSON number (or a bigint / decimal string for values above 2^53). */
function toDatum(v: unknown, at: string): bigint {
  let b: bigint | undefined;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isInteger(v)) b = BigInt(v);
  else if (typeof v === 'string' && /^[0-9]+$/.test(v)) b = BigInt(v);
  if (b === undefined || b < 0n || b > 0xffffffffffffffffn) throw invalidParameter(`${at}: ${String(v)} is not an unsigned 64-bit value`);
  return b;
}

function usesNotify(seccomp: LinuxSeccomp): boolean {
  return (seccomp.syscalls ?? []).some((s) => s.action === 'SCMP_ACT_NOTIFY');
}

/** A filter rule and the spec field it came from. */
export interface PlannedRule extends SeccompRule {
  field: string;
}

/** The pure part of compileSeccomp: the program handed to libseccomp, and the seccomp(2) flags. */
export interface SeccompPlan {
  program: SeccompProgram & { rules: PlannedRule[] };
  /**
   * Fields of names left out because this libseccomp cannot resolve them for this
   * architecture: syscalls of other architectures, syscalls newer than libseccomp, and
   * (as runc does, so that profiles written for newer kernels load) names that are no
   * syscall at all; validateSeccomp rejects the last.
   */
  skippedUnknown: string[];
  /** Fields of names left out because their action equals the default action. */
  skippedDefault: string[];
  flags: number;
  listenerPath: string;
}

/**
 * Checks the shape of linux.seccomp and plans the filter: resolves names with resolver
 * but builds nothing. Names unknown to the resolver are skipped, not rejected.
 */
export function planSeccomp(seccomp: LinuxSeccomp, field = 'linux.seccomp', resolver: SyscallResolver = addonResolver): SeccompPlan {
  checkSeccomp(seccomp, field, undefined);
  const defaultAction = seccompAction(seccomp.defaultAction, seccomp.defaultErrnoRet);
  const architectures = (seccomp.architectures ?? []).map((a) => SCMP_ARCH[a]!);
  const rules: PlannedRule[] = [];
  const skippedUnknown: string[] = [];
  const skippedDefault: string[] = [];
  (seccomp.syscalls ?? []).forEach((sc, i) => {
    const action = seccompAction(sc.action, sc.errnoRet);
    const args: SeccompRuleArg[] = (sc.args ?? []).map((a, k) => ({
      index: a.index,
      op: SCMP_CMP[a.op]!,
      value: toDatum(a.value, `${field}.syscalls[${i}].args[${k}].value`),
      valueTwo: a.valueTwo === undefined || a.valueTwo === null ? 0n : toDatum(a.valueTwo, `${field}.syscalls[${i}].args[${k}].valueTwo`),
    }));
    // libseccomp refuses two comparisons of the same argument in one rule; like runc,
    // such a rule becomes one rule per comparison (any of them matches).
    const indexes = new Set(args.map((a) => a.index));
    const argSets = indexes.size === args.length ? [args] : args.map((a) => [a]);
    sc.names.forEach((name, j) => {
      const at = `${field}.syscalls[${i}].names[${j}]`;
      if (action === defaultAction) {
        skippedDefault.push(at);
        return;
      }
      if (resolver.resolve(name) === -1) {
        skippedUnknown.push(at);
        return;
      }
      for (const set of argSets) rules.push({ syscall: name, action, args: set, field: at });
    });
  });

  const listenerPath = usesNotify(seccomp) ? seccomp.listenerPath! : '';
  let flags = 0;
  for (const f of seccomp.flags ?? []) flags |= SECCOMP_FLAGS[f]!;
  if (!listenerPath) flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV; // meaningless (and EINVAL) without a listener
  if (listenerPath && flags & SECCOMP_FILTER_FLAG_TSYNC) flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH; // the kernel requires it with NEW_LISTENER

  const attributes: [number, number][] = rules.length > OPTIMIZE_ABOVE_RULES ? [[SCMP_FLTATR_CTL_OPTIMIZE, 2]] : [];
  return { program: { defaultAction, architectures, rules, attributes }, skippedUnknown, skippedDefault, flags, listenerPath };
}

export interface CompileSeccompOptions {
  /** The OCI state sent to the listener (its pid, when absent, becomes the process's pid). */
  state?: object;
  resolver?: SyscallResolver;
}

/**
 * Compiles linux.seccomp into what the SECCOMP op of the init program takes. Throws
 * InvalidParameter errors naming the field, Unavailable when libseccomp is missing.
 */
export function compileSeccomp(seccomp: LinuxSeccomp, field = 'linux.seccomp', options: CompileSeccompOptions = {}): CompiledSeccomp {
  const plan = planSeccomp(seccomp, field, options.resolver);
  const { program } = plan;
  let filter: Buffer;
  try {
    filter = buildFilter(program);
  } catch (e) {
    if (e instanceof BerthError) throw e;
    const err = e as SeccompNativeError;
    if (typeof err.ruleIndex === 'number' && program.rules[err.ruleIndex]) {
      throw invalidParameter(`${program.rules[err.ruleIndex]!.field}: ${err.message}`);
    }
    if (typeof err.archIndex === 'number') throw invalidParameter(`${field}.architectures[${err.archIndex}]: ${err.message}`);
    throw systemError(`${field}: ${err.message}`, e);
  }
  const listenerMessage = plan.listenerPath
    ? seccompListenerMessage(options.state ?? {}, seccomp.listenerMetadata ?? '')
    : Buffer.alloc(0);
  return { filter, flags: plan.flags, listenerPath: plan.listenerPath, listenerMessage };
}

/**
 * Filters built lately, by program: libseccomp takes milliseconds for a long profile
 * (Docker's: ~15 ms) and most containers of a host share a handful of profiles.
 */
const filterCache = new Map<string, Buffer>();
const FILTER_CACHE_SIZE = 32;

function buildFilter(program: SeccompProgram): Buffer {
  const key = JSON.stringify(program, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  let filter = filterCache.get(key);
  if (filter) {
    filterCache.delete(key); // most recently used goes last
  } else {
    filter = callAddon(() => nativeAddon().seccompCompile(program));
    if (filterCache.size >= FILTER_CACHE_SIZE) filterCache.delete(filterCache.keys().next().value!);
  }
  filterCache.set(key, filter);
  return Buffer.from(filter); // a copy: callers own what they get
}

/** The token berth-init replaces with the process's pid (docs/init-program.md, op SECCOMP). */
export const PID_TOKEN = '${pid}';

/**
 * The OCI ContainerProcessState that goes with the notify fd to the listener:
 * `{"ociVersion","fds":["seccompFd"],"pid":${pid},"metadata","state"}`. The pid is the
 * literal token, unquoted, so that berth-init's replacement leaves a JSON number; every `$`
 * of metadata and state is written as `\u0024` so that no other token can appear. A state
 * without a numeric pid gets the token as its pid too (the container's init process).
 */
export function seccompListenerMessage(state: object, metadata: string): Buffer {
  const s = state as { ociVersion?: unknown; pid?: unknown };
  const ociVersion = typeof s.ociVersion === 'string' ? s.ociVersion : SECCOMP_STATE_OCI_VERSION;
  const safe = (v: unknown): string => JSON.stringify(v).replace(/\$/g, '\\u0024');
  const { pid, ...rest } = state as Record<string, unknown>;
  const statePid = typeof pid === 'number' ? String(pid) : PID_TOKEN;
  const stateJson = safe(rest);
  const stateWithPid = stateJson === '{}' ? `{"pid":${statePid}}` : `${stateJson.slice(0, -1)},"pid":${statePid}}`;
  return Buffer.from(
    `{"ociVersion":${safe(ociVersion)},"fds":["seccompFd"],"pid":${PID_TOKEN},"metadata":${safe(metadata)},"state":${stateWithPid}}`,
  );
}

const compiledProfiles = new Map<string, CompiledSeccomp>();
const COMPILED_PROFILES_KEPT = 16;

/**
 * compileSeccomp with the result remembered per profile, for a daemon that compiles the same
 * profile (Docker's default) at every start: building the BPF costs milliseconds, the
 * lookup a JSON.stringify of the profile. A profile with a listener is compiled every time
 * (its message names the container).
 */
export function compileSeccompCached(seccomp: LinuxSeccomp, field = 'linux.seccomp'): CompiledSeccomp {
  if (seccomp.listenerPath) return compileSeccomp(seccomp, field);
  const key = `${field}\0${JSON.stringify(seccomp)}`;
  let compiled = compiledProfiles.get(key);
  if (!compiled) {
    compiled = compileSeccomp(seccomp, field);
    if (compiledProfiles.size >= COMPILED_PROFILES_KEPT) compiledProfiles.delete(compiledProfiles.keys().next().value!);
    compiledProfiles.set(key, compiled);
  }
  return compiled;
}

/**
 * What berth-init calls after a launch prepared ahead has loaded the profile's first stage
 * (src/runtime/compile/exec.ts, compileExecAhead): the v1 moves, the clone into the v2
 * cgroup (clone3, which the first stage allows), the parent's report, release, pid file and
 * exit, the child's setup up to execve, and their error reports.
 */
const CALLED_AFTER_AHEAD_LOAD = [
  'read', 'write', 'close', 'openat', 'fcntl', 'socketpair', 'prctl', 'setsid', 'umask', 'close_range', 'capset',
  'setgroups', 'setresuid', 'setresgid', 'chdir', 'getcwd', 'execve', 'rt_sigprocmask', 'wait4', 'rt_sigtimedwait',
  'kill', 'exit_group', 'exit', 'renameat', 'unlinkat', 'seccomp',
];

/**
 * Splits a profile for a launch prepared ahead (SeccompAhead in compile/exec.ts): the first
 * stage is the profile with clone3 allowed, the second (undefined when the profile allows
 * clone3) allows everything but gives clone3 the profile's answer. Undefined when the profile
 * does not allow, unconditionally, every call berth-init makes after the first stage's load,
 * or has a listener: such an exec loads its filter in the process, as before.
 */
export function splitSeccompForAhead(seccomp: LinuxSeccomp): { stage1: LinuxSeccomp; stage2: LinuxSeccomp | undefined } | undefined {
  if (usesNotify(seccomp)) return undefined;
  const rules = seccomp.syscalls ?? [];
  // The action for a name: the default's when no rule names it; undefined when a rule with
  // arguments names it, or rules disagree.
  const actionOf = (name: string): { action: LinuxSeccompAction; errnoRet: number | undefined } | undefined => {
    const named = rules.filter((r) => r.names.includes(name));
    if (named.length === 0) return { action: seccomp.defaultAction, errnoRet: seccomp.defaultErrnoRet };
    if (named.some((r) => (r.args?.length ?? 0) > 0)) return undefined;
    const [first] = named;
    return named.every((r) => r.action === first!.action && r.errnoRet === first!.errnoRet) ? { action: first!.action, errnoRet: first!.errnoRet } : undefined;
  };
  if (CALLED_AFTER_AHEAD_LOAD.some((n) => actionOf(n)?.action !== 'SCMP_ACT_ALLOW')) return undefined;
  const clone3 = actionOf('clone3');
  if (!clone3) return undefined;
  if (clone3.action === 'SCMP_ACT_ALLOW') return { stage1: seccomp, stage2: undefined };
  const stage1: LinuxSeccomp = {
    ...seccomp,
    syscalls: [...rules.map((r) => ({ ...r, names: r.names.filter((n) => n !== 'clone3') })).filter((r) => r.names.length > 0), { names: ['clone3'], action: 'SCMP_ACT_ALLOW' }],
  };
  const stage2: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    ...(seccomp.architectures ? { architectures: seccomp.architectures } : {}),
    syscalls: [{ names: ['clone3'], action: clone3.action, ...(clone3.errnoRet !== undefined ? { errnoRet: clone3.errnoRet } : {}) }],
  };
  return { stage1, stage2 };
}
