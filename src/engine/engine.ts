// The container half of berthd: the Engine implements EngineBackend over container records
// (record.ts), berth-monitor (one per running container and per exec), the spec builder
// (oci-spec.ts), the cgroup managers and the image service. State lives on disk under the
// data root; everything in memory is rebuilt from it at start (recover()).

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, watch, type FSWatcher } from 'node:fs';
import type { Socket } from 'node:net';
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { constants as osConstants, cpus, hostname as hostHostname, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type {
  ArchivePutOptions,
  AttachOptions,
  ContainerCommitOptions,
  ContainerCreateOptions,
  ContainerListOptions,
  ContainerLogs,
  ContainerLogsOptions,
  ContainerRemoveOptions,
  ContainerStatsOptions,
  ContainerStopOptions,
  DiskUsageOptions,
  EngineBackend,
  EventsOptions,
  ExecStartOptions,
  SessionStreams,
  StreamSession,
} from '../api/backend.js';
import { UnimplementedBackend } from '../api/backend-unimplemented.js';
import type {
  ContainerCommitResponse,
  ContainerConfig,
  ContainerCreateResponse,
  ContainerPathStat,
  FilesystemChange,
  ContainerInspect,
  ContainerSummary,
  ContainerTopResponse,
  ContainerUpdateConfig,
  ContainerUpdateResponse,
  ContainerWaitResponse,
  HostConfig,
  LogMessage,
  MountPoint,
  Ulimit,
  WaitCondition,
} from '../api/types/container.js';
import type { ExecCreateRequest, ExecInspect } from '../api/types/exec.js';
import type { DiskUsage, EventMessage, SystemInfo, SystemVersion } from '../api/types/system.js';
import { API_VERSION, BERTH_VERSION, MIN_API_VERSION } from '../api/version.js';
import { BerthError, conflict, errorMessage, invalidParameter, isBerthError, notFound, notImplemented, systemError } from '../errors.js';
import { parseNormalizedReference, formatReference } from '../image/reference.js';
import { detectCgroupLayout, openCgroupManager, type CgroupLayout, type CgroupManager } from '../runtime/cgroups/index.js';
import { compileCreate, compileExec, compileExecAhead, detectHostOnce, type SeccompAhead } from '../runtime/compile/index.js';
import type { ExecInput } from '../runtime/compile/types.js';
import { cgroupFsKind, type CgroupFsKind } from '../runtime/compile/cgroup-join.js';
import { createResources } from '../runtime/container/devices.js';
import { mergeEnv } from '../runtime/container/exec-process.js';
import { encodeInitProgram, op, OpCode, str, type Op } from '../runtime/init-program.js';
import { sealedInitPath } from '../runtime/init-runner.js';
import { compileSeccompCached, splitSeccompForAhead, type CompiledSeccomp } from '../runtime/seccomp.js';
import type { LinuxSeccomp, Process, Spec } from '../runtime/spec/types.js';
import { namespaceFlag } from '../runtime/compile/flags.js';
import { EventBus } from './events.js';
import { cgroupParentOf, checkCreateSettings } from './create-checks.js';
import { EXEC_PID_FILE, execConsoleSocket, ExecLaunch, ExecLaunches, type LaunchShape } from './exec-launch.js';
import { ExecStore, type StoredExec } from './exec-store.js';
import { ContainerNetworking, NETWORK_METHODS } from './networking.js';
import type { NetworkManager } from '../network/index.js';
import { hostnameFile, hostsFile, resolvConf } from './etc-files.js';
import { rfc3339Nano, since } from './human-time.js';
import type { EngineImages } from './images/index.js';
import { containerFilter } from './list-filters.js';
import { attach, readExitFile, readExitFileSync, readJsonLog, readJsonLogBatches, startMonitor, AttachConnection, MonitorSpawner, type ExitStatus, type MonitorStarted } from './monitor/index.js';
import { NameIndex, newContainerId, randomName, validateName } from './names.js';
import { buildSpec, capabilitySet, linuxResources, validateResources, type DeviceInfo, type HostLimits } from './oci-spec.js';
import { ContainerPaths, loadRecord, removeContainerFiles, saveRecord, scanContainerDirs, ZERO_TIME, type ContainerRecord, type ContainerStatus, type RecordState } from './record.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys, pump } from './session.js';
import { dockerStats, type CpuSample } from './stats.js';
import { resolveUser } from './user.js';
import { StepTrace } from './step-trace.js';
import { markRemoveVolumes, needsVolumes, reconcileVolumeUsers, releaseVolumes, setupVolumes, validateVolumeConfig, volumeMountPoints, volumeOciMounts, isVolumeBind } from './volumes.js';
import { VolumeStore } from '../volume/store.js';
import { archiveMounts, archiveOf, extractInScope, extractionPoint, statContainerPath } from './archive.js';
import { PathScope } from './scoped-path.js';
import { layerChanges } from './changes.js';
import type { OciImageConfig } from './images/index.js';
import { Mutex } from '../sys/mutex.js';

/** Mount points berth-init makes in a rootfs: not changes (dockerd keeps them in an init layer). */
const MOUNT_POINTS = new Set(['/proc', '/sys', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/console', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/.dockerenv']);

const run = promisify(execFile);

export type EngineLogger = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

export interface EngineOptions {
  dataRoot: string;
  execRoot: string;
  images: EngineImages;
  /** daemon.json default-ulimits. */
  defaultUlimits?: Ulimit[];
  /** daemon.json log-driver and log-opts (json-file: max-size, max-file). */
  logDriver?: string;
  logOpts?: Record<string, string>;
  /** The cgroup every container's cgroup goes under (absolute), e.g. /berthd. */
  cgroupParent: string;
  liveRestore?: boolean;
  registryMirrors?: string[];
  insecureRegistries?: string[];
  log?: EngineLogger;
  /** Bridge networking (src/network), restored by the daemon; without it the default network is a lone loopback. */
  network?: NetworkManager;
  /** Named and anonymous volumes (the build service's store, shared with the volume endpoints). */
  volumes?: VolumeStore;
  /** How long an ended exec stays inspectable, in ms (default 5 minutes). */
  execRetentionMs?: number;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** An init program still being compiled: sent to berth-init when it is done, or refused. */
function deferredProgram(): Deferred<Buffer> & { reject: (e: unknown) => void } {
  let resolve!: (v: Buffer) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<Buffer>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** An exec's launch (exec-launch.ts) serves another exec of the same shape. */
const execShape = (config: ExecCreateRequest): LaunchShape => ({ tty: config.Tty === true, stdin: config.AttachStdin === true, privileged: config.Privileged === true });

/**
 * How long the work after an exec's end (its record, its directory, the container's next
 * spare launch) waits: `docker exec` asks for the exit code right after the stream's end,
 * and that answer should not wait for it, nor the two new processes compete with it for
 * the CPU.
 */
const EXEC_AFTERMATH_MS = 10;
/**
 * How long a started exec's record waits: berthd hears `ready` just as the process execs,
 * and a write then takes the CPU from it; a short exec has ended by then, and its final
 * record is the only one written.
 */
const EXEC_RECORD_DELAY_MS = 5;
/**
 * How long berthd leaves the exit channel of a handed-over exec unread (ExitChannel.hold):
 * its client asks for the exit code right after its stream ends, and that request reads
 * it; berthd woken by the monitor's exit line instead would take the CPU from the monitor
 * before it ends the client's stream.
 */
const EXEC_EXIT_HOLD_MS = 20;

/** An exec whose program is sent (execStart): its launch, whether the monitor holds the output, its start. */
interface BegunExec {
  launch: ExecLaunch;
  held: boolean;
  started: Promise<MonitorStarted>;
}

interface Waiter {
  condition: WaitCondition;
  resolve: (r: ContainerWaitResponse) => void;
}

interface ExecBase {
  pid: number;
  cgroupProcs: string[];
  cgroupKinds: Map<string, CgroupFsKind>;
  seccomp: { spec: LinuxSeccomp; compiled: CompiledSeccomp } | undefined;
  /** The profile split for launches prepared ahead; null when it cannot be (aheadStages). */
  ahead?: SeccompAhead | null;
  /** The run's latest exec programs, by what they were compiled from (execProgram). */
  programs: Map<string, Buffer>;
  /** The first part of a launch prepared ahead, the same for every spare of the run; null when none can be (execPrelude). */
  prelude?: Buffer | null;
}

/** Exec programs kept per run: scripts and health checks repeat a handful of commands. */
const EXEC_PROGRAMS_KEPT = 8;

/** What an exec's program is compiled from, but for the container's user files. */
function execProgramConfig(cfg: ExecCreateRequest, consoleSize: readonly number[] | undefined, consoleSocket: string | undefined, prepared: boolean): string {
  return JSON.stringify([cfg.Cmd, cfg.Env ?? null, cfg.User ?? '', cfg.WorkingDir ?? '', cfg.Privileged === true, cfg.Tty === true, consoleSize ?? null, consoleSocket ?? '', prepared]);
}

/**
 * The user files an exec's program reads (its user, HOME): a changed one compiles it again.
 * Only a cache key (a stat that follows a symlink out of the rootfs changes nothing but that);
 * the compile itself resolves the files inside the rootfs.
 */
function userFilesStamp(rootfs: string): string {
  return ['etc/passwd', 'etc/group']
    .map((f) => {
      const st = statSync(join(rootfs, f), { bigint: true, throwIfNoEntry: false });
      return st ? `${st.ino}:${st.mtimeNs}:${st.size}` : '-';
    })
    .join(' ');
}

/** What berthd holds in memory for one container beside its record. */
class Live {
  readonly lock = new Mutex();
  waiters: Waiter[] = [];
  watcher: FSWatcher | undefined;
  poll: NodeJS.Timeout | undefined;
  /** Resolved when the current run ends (exit handled). */
  exited: Deferred<void> = deferred();
  /**
   * Attach sessions waiting for the container to start. One alone is handed the monitor's
   * first client connection (`given`, made before berth-init starts); several connect at
   * berth-init's sync point; either way before the process runs, so no output is missed.
   */
  pendingAttach = new Set<(given?: Socket) => Promise<void>>();
  restartTimer: NodeJS.Timeout | undefined;
  backoffMs = 0;
  removing = false;
  /** What every exec of the current run compiles the same way (execProgram), for that run's pid. */
  execBase: ExecBase | undefined;
  spec: Spec | undefined;
  healthTimer: NodeJS.Timeout | undefined;
  statsPre: { read: Date; cpu: CpuSample } | undefined;
  constructor(public rec: ContainerRecord) {}
}

interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecCreateRequest;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
  monitorPid: number;
  dir: string;
  done: Deferred<void>;
  /** Written to disk (exec-store.ts) when started; health-check execs are not. */
  persist: boolean;
  /** The exec's record writes, one after the other (the last one holds its final state). */
  saved: Promise<void>;
  /** Its program, compiled right after its creation when a launch waits for it (createExec). */
  program?: { pid: number; key: string; bytes: Buffer } | undefined;
  /** A handed-over exec's status, read from its monitor's held exit channel when asked. */
  exitNow?: (() => ExitStatus | undefined) | undefined;
  /** When it ended (ms), or when berthd found it ended at its start; forgotten execRetentionMs after. */
  endedAt?: number;
}

/** How long an ended exec stays inspectable unless --exec-retention says otherwise (dockerd: 5–10 minutes). */
const DEFAULT_EXEC_RETENTION_MS = 5 * 60_000;

/** What an exec's program depends on besides its config: the console size it starts with, and whether its launch was prepared ahead. */
const programKey = (size: readonly number[] | undefined, prepared: boolean): string => `${size ? size.join('x') : ''}${prepared ? ' ahead' : ''}`;

const RUNNING: ContainerStatus[] = ['running', 'paused', 'restarting'];
/** A restart policy that starts the container again when berthd comes back after a reboot. */
const restartsAfterBoot = (rec: ContainerRecord): boolean => !['', 'no'].includes(rec.hostConfig.RestartPolicy?.Name ?? '');

const isRunning = (rec: ContainerRecord): boolean => rec.state.status === 'running' || rec.state.status === 'paused';

function signalNumber(sig: string | undefined, fallback: NodeJS.Signals = 'SIGKILL'): NodeJS.Signals | number {
  if (sig === undefined || sig === '') return fallback;
  if (/^\d+$/.test(sig)) {
    const n = Number(sig);
    if (n <= 0 || n > 64) throw invalidParameter(`Invalid signal: ${sig}`);
    return n;
  }
  const name = (sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`) as NodeJS.Signals;
  if (!(name in osSignals)) throw invalidParameter(`Invalid signal: ${sig}`);
  return name;
}

const osSignals = osConstants.signals as unknown as Record<string, number>;

function signalName(sig: NodeJS.Signals | number): string {
  if (typeof sig === 'string') return sig;
  for (const [k, v] of Object.entries(osSignals)) if (v === sig) return k;
  return String(sig);
}

/** "10m" → bytes (docker's log-opts max-size). */
function parseSize(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(v.trim());
  if (!m) throw invalidParameter(`invalid max-size: ${v}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * mult);
}

function daemonRlimits(): { hard: Map<string, number>; nofile: { soft: number; hard: number } | undefined } {
  const hard = new Map<string, number>();
  let nofile: { soft: number; hard: number } | undefined;
  try {
    const names: Record<string, string> = {
      'Max open files': 'RLIMIT_NOFILE',
      'Max processes': 'RLIMIT_NPROC',
      'Max core file size': 'RLIMIT_CORE',
      'Max locked memory': 'RLIMIT_MEMLOCK',
      'Max stack size': 'RLIMIT_STACK',
    };
    for (const line of readFileSync('/proc/self/limits', 'utf8').split('\n')) {
      for (const [label, name] of Object.entries(names)) {
        if (!line.startsWith(label)) continue;
        const f = line.slice(label.length).trim().split(/\s+/);
        if (f[1] && f[1] !== 'unlimited') hard.set(name, Number(f[1]));
        if (name === 'RLIMIT_NOFILE' && f[0] && f[1] && f[1] !== 'unlimited') nofile = { soft: Number(f[0]), hard: Number(f[1]) };
      }
    }
  } catch {
    // no /proc: no limits known
  }
  return { hard, nofile };
}

function statDevice(path: string): DeviceInfo {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw invalidParameter(`error gathering device information while adding custom device "${path}": ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw invalidParameter(`error gathering device information while adding custom device "${path}": not a device node`);
  const rdev = st.rdev;
  return {
    type: st.isCharacterDevice() ? 'c' : 'b',
    major: Number((BigInt(rdev) >> 8n) & 0xfffn),
    minor: Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & 0xfff00n)),
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
  };
}

/**
 * The exit file berth-monitor writes in `dir`, noticed at once through inotify (an exec's
 * status is what `docker exec` asks for right after its stream ends), with a slow poll as
 * a safety net.
 */
function exitFileIn(dir: string): Promise<ExitStatus> {
  return new Promise((resolve) => {
    let done = false;
    let watcher: FSWatcher | undefined;
    const finish = (st: ExitStatus): void => {
      if (done) return;
      done = true;
      watcher?.close();
      clearInterval(poll);
      resolve(st);
    };
    const check = (): void => {
      try {
        const st = readExitFileSync(join(dir, 'exit'));
        if (st) finish(st);
      } catch {
        // torn or unreadable: the monitor renames it into place, the next event or poll retries
      }
    };
    try {
      watcher = watch(dir, (_ev, file) => {
        if (file === 'exit') check();
      });
      watcher.on('error', () => undefined);
    } catch {
      watcher = undefined;
    }
    const poll = setInterval(check, 250);
    check();
  });
}

/** Inserts SYNC NAME before the program's READY: the point where attach clients connect. */
function syncBeforeReady(ops: Op[], name: string): Op[] {
  const i = ops.findIndex((o) => o.code === OpCode.READY);
  if (i < 0) throw systemError('the init program has no READY op');
  return [...ops.slice(0, i), op(OpCode.SYNC, str(name)), ...ops.slice(i)];
}

/**
 * The init --init runs as PID 1: a static tini (it runs inside the container's rootfs, so it
 * cannot need the host's libc). BERTH_INIT_BINARY overrides; Debian's tini package has
 * /usr/bin/tini-static.
 */
export const INIT_CANDIDATES = ['/usr/bin/tini-static', '/usr/libexec/docker/docker-init', '/usr/bin/docker-init'];

function initBinary(): string {
  const env = process.env.BERTH_INIT_BINARY;
  for (const p of env ? [env] : INIT_CANDIDATES) if (existsSync(p)) return p;
  throw invalidParameter(`--init needs a static init binary, and none was found (looked for ${env ?? INIT_CANDIDATES.join(', ')}): install Debian's tini package (apt-get install tini)`);
}

/** The label that asks berthd to restart a container when it turns unhealthy (Berth's own). */
export const RESTART_ON_UNHEALTHY_LABEL = 'berth.restart-on-unhealthy';

function restartOnUnhealthy(rec: ContainerRecord): boolean {
  const v = rec.config.Labels?.[RESTART_ON_UNHEALTHY_LABEL];
  return v !== undefined && /^(1|true|yes|on)$/i.test(v);
}

function nowIso(): string {
  return rfc3339Nano(new Date());
}

export class Engine extends UnimplementedBackend implements EngineBackend {
  readonly paths: ContainerPaths;
  readonly eventBus = new EventBus();
  private readonly names = new NameIndex();
  private readonly containers = new Map<string, Live>();
  private readonly execs = new Map<string, ExecRecord>();
  private readonly execStore: ExecStore;
  private readonly launches = new ExecLaunches();
  private readonly images: EngineImages;
  private readonly log: EngineLogger;
  private readonly host: HostLimits;
  private readonly defaultUlimits: Ulimit[];
  private readonly net: ContainerNetworking | undefined;
  private closed = false;
  /** Removals whose rootfs and files are still being deleted (close() waits for them). */
  private readonly removals = new Set<Promise<void>>();
  private readonly volumes: VolumeStore;
  /** Starts the containers' monitors (a fork of berthd costs milliseconds; its fork does not). */
  private readonly spawner: MonitorSpawner;
  /** The next sweep of ended execs, while there are some (sweepEndedExecs). */
  private execSweep: NodeJS.Timeout | undefined;

  constructor(private readonly opts: EngineOptions) {
    super();
    this.paths = new ContainerPaths(opts.dataRoot, opts.execRoot);
    this.spawner = new MonitorSpawner(join(opts.execRoot, 'spawner.sock'), (m) => this.log('warn', m));
    this.images = opts.images;
    this.volumes = opts.volumes ?? new VolumeStore(opts.dataRoot);
    this.execStore = new ExecStore(this.paths.containersDir);
    this.log = opts.log ?? (() => undefined);
    const rl = daemonRlimits();
    this.host = {
      ncpu: cpus().length,
      cpus: cpus().map((_c, i) => i),
      memTotal: totalmem(),
      hardRlimits: rl.hard,
    };
    // Default ulimits: daemon.json's, else the daemon's own open-files limit raised to its hard
    // limit (root here cannot raise a hard limit, so containers get what berthd has).
    this.defaultUlimits = opts.defaultUlimits ?? (rl.nofile ? [{ Name: 'nofile', Soft: rl.nofile.hard, Hard: rl.nofile.hard }] : []);
    // The image endpoints are the image service's.
    const self = this as unknown as Record<string, unknown>;
    for (const k of ['imageList', 'imageInspect', 'imageHistory', 'imagePull', 'imageImport', 'imagePush', 'imageTag', 'imageRemove', 'imagePrune', 'imageSave', 'imageLoad', 'imageSearch', 'authenticate'] as const) {
      const fn = (this.images as unknown as Record<string, unknown>)[k];
      if (typeof fn === 'function') self[k] = (fn as (...a: unknown[]) => unknown).bind(this.images);
    }
    // The network endpoints are the networking's (networking.ts).
    if (opts.network) {
      const net = new ContainerNetworking(opts.network, {
        paths: this.paths,
        lookup: (ref) => this.get(ref).rec,
        isRunning: (id) => this.containers.has(id) && isRunning(this.containers.get(id)!.rec),
        records: () => [...this.containers.values()].map((c) => c.rec),
        save: (rec) => saveRecord(this.paths, rec),
        log: this.log,
      });
      this.net = net;
      for (const k of NETWORK_METHODS) self[k] = (net[k] as (...a: unknown[]) => unknown).bind(net);
    }
  }

  // --- bookkeeping ------------------------------------------------------------------------

  private get(ref: string): Live {
    const id = this.names.resolve(ref);
    const c = this.containers.get(id);
    if (!c) throw notFound(`No such container: ${ref}`);
    return c;
  }

  private locked<T>(c: Live, fn: () => Promise<T>): Promise<T> {
    return c.lock.run(fn);
  }

  private async save(c: Live): Promise<void> {
    await saveRecord(this.paths, c.rec);
  }

  private attrs(rec: ContainerRecord, extra: Record<string, string> = {}): Record<string, string> {
    return { ...(rec.config.Labels ?? {}), image: rec.imageRef, name: rec.name.slice(1), ...extra };
  }

  private emit(rec: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.eventBus.emit('container', action, rec.id, this.attrs(rec, extra));
  }

  private cgroup(rec: ContainerRecord): CgroupManager {
    return this.cgroupAt(rec.cgroupsPath);
  }

  // The cgroup mounts are read once: parsing /proc/self/mountinfo, which lists every
  // container's rootfs too, on each start, exec and exit would grow with the containers.
  private cgroupLayout?: CgroupLayout;
  private cgroupAt(cgroupsPath: string): CgroupManager {
    this.cgroupLayout ??= detectCgroupLayout();
    return openCgroupManager({ cgroupsPath, layout: this.cgroupLayout });
  }

  isRunning(id: string): boolean {
    const c = this.containers.get(id);
    return c !== undefined && RUNNING.includes(c.rec.state.status);
  }

  /** The containers made from an image (for rmi conflicts). */
  containersUsing(imageId: string): string[] {
    return [...this.containers.values()].filter((c) => c.rec.image === imageId).map((c) => c.rec.id);
  }

  // --- recovery ---------------------------------------------------------------------------

  /** Rebuilds the in-memory state from disk and re-adopts running containers (live restore). */
  async recover(): Promise<void> {
    await mkdir(this.paths.containersDir, { recursive: true, mode: 0o710 });
    await mkdir(join(this.opts.execRoot, 'c'), { recursive: true, mode: 0o700 });
    // Running containers need the spawner at once; else the first create starts it.
    const { records, orphans } = await scanContainerDirs(this.paths);
    for (const id of orphans) {
      this.log('info', `removing half-created container ${id}`);
      await this.images.removeRootfs(id).catch((e: unknown) => this.log('warn', `remove rootfs of ${id}: ${errorMessage(e)}`));
      await this.killCgroupOf(`${this.opts.cgroupParent}/${id}`);
      await removeContainerFiles(this.paths, id);
    }
    for (const rec of records) {
      this.names.add(rec.id, rec.name);
      this.containers.set(rec.id, new Live(rec));
    }
    if (records.length > 0) this.spawner.start();
    await reconcileVolumeUsers(this.volumes, records).catch((e: unknown) => this.log('error', `reconcile volume users: ${errorMessage(e)}`));
    for (const c of this.containers.values()) {
      try {
        await this.recoverOne(c);
      } catch (e) {
        this.log('error', `recover container ${c.rec.id}: ${errorMessage(e)}`);
      }
    }
    await this.cleanStaleCgroups();
    await this.cleanStaleMounts();
    await this.net?.reconcile();
  }

  private monitorAlive(pid: number): boolean {
    if (!pid) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('berth-monitor');
    } catch {
      return false;
    }
  }

  private async recoverOne(c: Live): Promise<void> {
    const rec = c.rec;
    await this.recoverExecs(c); // before the container's exit removes their runtime dirs
    switch (rec.state.status) {
      case 'running':
      case 'paused':
      case 'restarting': {
        const exit = await readExitFile(this.paths.exitFile(rec.id)).catch(() => undefined);
        if (rec.state.status === 'restarting' && !this.monitorAlive(rec.state.monitorPid)) {
          rec.state.status = 'exited';
          await this.save(c);
          this.scheduleRestart(c, rec.state.exitCode, 0);
          return;
        }
        if (exit) {
          this.log('info', `container ${rec.id} exited while berthd was down (${exit.exitCode})`);
          await this.handleExit(c, exit);
        } else if (this.monitorAlive(rec.state.monitorPid)) {
          this.log('info', `re-adopting running container ${rec.id}`);
          this.watchExit(c);
          this.startHealthcheck(c);
        } else {
          await this.handleExit(c, undefined, 'berth-monitor died while berthd was down');
        }
        return;
      }
      case 'created':
        if (!(await this.images.hasRootfs(rec.id))) {
          // written beside its rootfs, which a crash did not let finish: never acknowledged
          this.log('info', `removing half-created container ${rec.id} (no rootfs)`);
          await this.finishRemove(c);
          return;
        }
        if (existsSync(this.paths.runtime(rec.id))) {
          // a start that was never acknowledged
          await this.killCgroupOf(rec.cgroupsPath);
          await rm(this.paths.runtime(rec.id), { recursive: true, force: true });
        }
        return;
      case 'removing':
        await this.finishRemove(c);
        return;
      default:
        return;
    }
  }

  /**
   * The container's stored execs back in memory. One that was running has exited meanwhile
   * (its exit file is read), still runs under its berth-monitor (watched again), or lost its
   * monitor (exit 255, as a container's).
   */
  private async recoverExecs(c: Live): Promise<void> {
    for (const s of await this.execStore.load(c.rec.id, (f, e) => this.log('warn', `skip exec record ${f}: ${errorMessage(e)}`))) {
      const ex: ExecRecord = { ...s, started: true, done: deferred(), persist: true, saved: Promise.resolve() };
      this.execs.set(ex.id, ex);
      if (!ex.running) {
        ex.done.resolve();
        this.execEnded(ex); // its end time is not on record: it stays its full time from now
        continue;
      }
      const st = await readExitFile(join(ex.dir, 'exit')).catch(() => undefined);
      if (st) await this.execExited(c.rec, ex, st.exitCode);
      else if (this.monitorAlive(ex.monitorPid)) this.watchExecExit(c.rec, ex);
      else await this.execExited(c.rec, ex, 255);
    }
  }

  /**
   * Kills what is left in a container's cgroup and removes it. `destroy: false` leaves the
   * (empty) directories for a later call: the answer to a wait need not wait for ≈ 20 rmdirs.
   */
  private async killCgroupOf(cgroupsPath: string, opts: { destroy?: boolean } = {}): Promise<void> {
    const cg = this.cgroupAt(cgroupsPath);
    if (!(await cg.exists().catch(() => false))) return;
    // Usually empty by now (the container's init has exited, which ends its pid namespace):
    // then there is nothing to thaw or kill, and no process can enter it on its own.
    if ((await cg.pids().catch(() => [0])).length > 0) {
      await cg.thaw().catch(() => undefined);
      await cg.kill('SIGKILL').catch(() => undefined);
      for (let i = 0; i < 100; i++) {
        if ((await cg.pids().catch(() => [])).length === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    if (opts.destroy === false) return;
    await cg.destroy().catch((e: unknown) => this.log('warn', `remove cgroup ${cgroupsPath}: ${errorMessage(e)}`));
  }

  private async cleanStaleCgroups(): Promise<void> {
    const parentRel = this.opts.cgroupParent.replace(/^\//, '');
    const seen = new Set<string>();
    for (const hier of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
      const dir = join('/sys/fs/cgroup', hier, parentRel);
      for (const id of await readdir(dir).catch(() => [] as string[])) if (/^[0-9a-f]{64}$/.test(id)) seen.add(id);
    }
    if (existsSync(join('/sys/fs/cgroup', 'cgroup.controllers'))) {
      for (const id of await readdir(join('/sys/fs/cgroup', parentRel)).catch(() => [] as string[])) if (/^[0-9a-f]{64}$/.test(id)) seen.add(id);
    }
    for (const id of seen) {
      const c = this.containers.get(id);
      if (c && isRunning(c.rec)) continue;
      this.log('info', `removing stale cgroup of ${id}`);
      await this.killCgroupOf(`${this.opts.cgroupParent}/${id}`);
    }
  }

  private async cleanStaleMounts(): Promise<void> {
    const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
    const root = `${this.opts.dataRoot}/`;
    const points = info
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .map((p) => p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))))
      .filter((p) => p.startsWith(root));
    for (const p of points.reverse()) {
      const id = p.split('/').find((s) => /^[0-9a-f]{64}$/.test(s));
      if (!id) continue;
      const c = this.containers.get(id);
      if (c && (isRunning(c.rec) || c.rec.state.status === 'created')) continue;
      this.log('info', `unmounting stale mount ${p}`);
      await run('umount', ['-l', p]).catch(() => undefined);
    }
  }

  /** Stops watching (the containers go on: live restore); removes the cgroup parent when empty. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.execSweep);
    this.spawner.close();
    await this.launches.close();
    await this.images.flush?.().catch((e: unknown) => this.log('warn', `sync pulled layers: ${errorMessage(e)}`));
    await Promise.allSettled([...this.removals]);
    const parentRel = this.opts.cgroupParent.replace(/^\//, '');
    for (const hier of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
      await rmdir(join('/sys/fs/cgroup', hier, parentRel)).catch(() => undefined);
    }
    await rmdir(join('/sys/fs/cgroup', parentRel)).catch(() => undefined);
    for (const c of this.containers.values()) {
      c.watcher?.close();
      if (c.poll) clearInterval(c.poll);
      if (c.restartTimer) clearTimeout(c.restartTimer);
      if (c.healthTimer) clearTimeout(c.healthTimer);
    }
  }

  // --- system -----------------------------------------------------------------------------

  override async systemVersion(): Promise<SystemVersion> {
    return {
      Platform: { Name: 'Berth' },
      Components: [{ Name: 'Engine', Version: BERTH_VERSION, Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: goArch(), KernelVersion: release() } }],
      Version: BERTH_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: 'berth',
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: release(),
    };
  }

  override async systemInfo(): Promise<SystemInfo> {
    const all = [...this.containers.values()].map((c) => c.rec);
    const images = (await (this.images.imageList?.({ all: false, filters: {}, sharedSize: false, digests: false, manifests: false }) ?? Promise.resolve([])).catch(() => [])) as unknown[];
    const mirrors = this.opts.registryMirrors ?? [];
    return {
      ID: 'berth',
      Containers: all.length,
      ContainersRunning: all.filter((r) => r.state.status === 'running').length,
      ContainersPaused: all.filter((r) => r.state.status === 'paused').length,
      ContainersStopped: all.filter((r) => !RUNNING.includes(r.state.status)).length,
      Images: images.length,
      Driver: this.images.driverName?.() ?? 'overlay2',
      DriverStatus: [],
      DockerRootDir: this.opts.dataRoot,
      Plugins: { Volume: [], Network: this.net ? ['bridge', 'host', 'null'] : ['host', 'null'], Authorization: null, Log: ['json-file', 'none'] },
      MemoryLimit: true,
      SwapLimit: true,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      OomKillDisable: true,
      IPv4Forwarding: false,
      Debug: false,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: this.opts.logDriver ?? 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1',
      NEventsListener: 0,
      KernelVersion: release(),
      OperatingSystem: osName(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: process.arch === 'x64' ? 'x86_64' : process.arch,
      NCPU: this.host.ncpu,
      MemTotal: this.host.memTotal,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: {
        IndexConfigs: { 'docker.io': { Name: 'docker.io', Mirrors: mirrors, Secure: true, Official: true } },
        InsecureRegistryCIDRs: ['127.0.0.0/8'],
        Mirrors: mirrors,
      },
      GenericResources: null,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: hostHostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: BERTH_VERSION,
      Runtimes: { berth: { path: 'berth-init' } },
      DefaultRuntime: 'berth',
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: '',
      ContainerdCommit: { ID: '' },
      RuncCommit: { ID: '' },
      InitCommit: { ID: '' },
      SecurityOptions: ['name=seccomp,profile=builtin'],
      Warnings: this.net ? [] : ['WARNING: bridge networking is not implemented yet: containers on the default network get an isolated network namespace with only a loopback interface'],
    };
  }

  override async systemDiskUsage(opts: DiskUsageOptions): Promise<Partial<DiskUsage>> {
    const want = (t: string): boolean => opts.types.length === 0 || (opts.types as string[]).includes(t);
    const out: Partial<DiskUsage> = {};
    if (want('container')) out.Containers = await this.containerList({ all: true, limit: 0, size: true, filters: {} });
    if (want('image')) out.Images = ((await this.images.imageList?.({ all: false, filters: {}, sharedSize: false, digests: false, manifests: false }).catch(() => [])) ?? []) as DiskUsage['Images'];
    if (want('volume')) out.Volumes = await Promise.all((await this.volumes.list()).Volumes.map(async (v) => ({ ...v, UsageData: await this.volumes.usage(v.Name).catch(() => ({ Size: -1, RefCount: 0 })) })));
    if (want('build-cache')) out.BuildCache = [];
    out.LayersSize = 0;
    return out;
  }

  override events(opts: EventsOptions): AsyncIterable<EventMessage> {
    return this.eventBus.stream(opts);
  }

  // --- create -----------------------------------------------------------------------------

  /** dockerd's checks of a HostConfig; its warnings. */
  private validateHostConfig(hc: HostConfig, config: ContainerConfig = {}): string[] {
    const warnings = checkCreateSettings(config, hc);
    validateResources(hc, this.host);
    const rp = hc.RestartPolicy ?? {};
    const name = rp.Name ?? '';
    if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(name)) throw invalidParameter(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
    if ((rp.MaximumRetryCount ?? 0) < 0) throw invalidParameter('invalid restart policy: maximum retry count cannot be negative');
    if (rp.MaximumRetryCount && name !== 'on-failure') throw invalidParameter(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
    if (hc.AutoRemove && name !== '' && name !== 'no') throw invalidParameter(`can't create 'AutoRemove' container with restart policy`);
    const lt = hc.LogConfig?.Type ?? '';
    if (lt !== '' && lt !== 'json-file' && lt !== 'local' && lt !== 'none') throw invalidParameter(`logging driver "${lt}" is not supported by this Berth daemon (json-file, local, none)`);
    if (hc.Init) initBinary();
    capabilitySet(hc);
    // A dry build of the spec validates everything else (mounts, modes, devices, security options).
    buildSpec({}, hc, {
      id: '0',
      rootfs: '/nonexistent',
      hostsPath: '/h',
      hostnamePath: '/h',
      resolvConfPath: '/r',
      hostname: 'x',
      user: { uid: 0, gid: 0, additionalGids: [] },
      env: [],
      args: ['x'],
      cwd: '/',
      cgroupsPath: '/x',
      defaultUlimits: this.defaultUlimits,
      statDevice,
      joinPid: (ref) => this.joinPid(ref),
      userNetworks: this.net !== undefined,
    });
    return warnings;
  }

  /**
   * Whose /etc/hosts, /etc/hostname and /etc/resolv.conf a container binds: with --network
   * container:<ref> the other container's (dockerd shares them, and the hostname, in that
   * mode: one network stack, one set of names); otherwise its own. A peer that is gone leaves
   * the container its own files (inspect of a stopped container).
   */
  private etcFilesOf(rec: ContainerRecord): string {
    const mode = rec.hostConfig.NetworkMode ?? '';
    if (!mode.startsWith('container:')) return rec.id;
    try {
      return this.get(mode.slice('container:'.length)).rec.id;
    } catch {
      return rec.id;
    }
  }

  private joinPid(ref: string): number {
    const c = this.get(ref);
    if (!isRunning(c.rec)) throw conflict(`cannot join namespaces of container ${c.rec.id}: it is not running`);
    return c.rec.state.pid;
  }

  override async containerCreate(opts: ContainerCreateOptions): Promise<ContainerCreateResponse> {
    const trace = new StepTrace('create', (m) => this.log('debug', m));
    this.spawner.start(); // up by the time this container starts (a daemon that runs none has no spawner)
    const cfg: ContainerConfig = { ...opts.config };
    const hc: HostConfig = { ...opts.hostConfig };
    if (!cfg.Image) throw invalidParameter('No image specified');
    if (opts.platform && !/^linux(\/|$)/.test(opts.platform)) throw invalidParameter(`platform ${opts.platform} is not supported (linux only)`);
    const name = opts.name ? validateName(opts.name) : randomName((n) => this.names.hasName(n));
    if (cfg.Hostname && !/^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/.test(cfg.Hostname)) throw invalidParameter(`invalid hostname format: ${cfg.Hostname}`);
    if (!hc.NetworkMode) hc.NetworkMode = 'default';
    // NetworkDisabled: no network but the loopback, as dockerd (which keeps the mode but connects nothing).
    if (cfg.NetworkDisabled === true && (hc.NetworkMode === 'default' || hc.NetworkMode === 'bridge')) hc.NetworkMode = 'none';
    const settingsWarnings = this.validateHostConfig(hc, cfg);
    validateVolumeConfig(hc);
    await this.net?.validate(hc, opts.networkingConfig, cfg);
    trace.mark('validate');
    const img = await this.images.resolveImage(cfg.Image);
    const ic = img.config;
    trace.mark('image');

    const id = newContainerId();
    this.names.reserve(id, name); // 409 before anything is written
    const warnings: string[] = [...settingsWarnings];
    if (!this.net && (hc.NetworkMode === 'default' || hc.NetworkMode === 'bridge')) {
      warnings.push('Berth has no bridge networking yet: this container gets its own network namespace with only a loopback interface (use --network host for host networking)');
    }
    if (!this.net && (Object.keys(hc.PortBindings ?? {}).length || hc.PublishAllPorts)) warnings.push('published ports need bridge networking, which Berth does not have yet: they are ignored');

    let entrypoint = cfg.Entrypoint === undefined || cfg.Entrypoint === null ? (ic.Entrypoint ?? []) : (cfg.Entrypoint as string[]);
    if (entrypoint.length === 1 && entrypoint[0] === '') entrypoint = [];
    let cmd: string[] = (cfg.Cmd as string[] | null | undefined) ?? [];
    if ((cfg.Cmd === undefined || cfg.Cmd === null || cmd.length === 0) && (cfg.Entrypoint === undefined || cfg.Entrypoint === null)) cmd = ic.Cmd ?? [];
    const argv = [...entrypoint, ...cmd];
    if (argv.length === 0) {
      this.names.releaseName(name, id);
      throw invalidParameter('no command specified');
    }
    const merged: ContainerConfig = {
      ...cfg,
      Hostname: cfg.Hostname || id.slice(0, 12),
      Domainname: cfg.Domainname ?? '',
      User: cfg.User || ic.User || '',
      Env: mergeEnv(ic.Env ?? [], cfg.Env ?? []),
      Cmd: cmd,
      Entrypoint: entrypoint.length ? entrypoint : null,
      WorkingDir: cfg.WorkingDir || ic.WorkingDir || '',
      Labels: { ...(ic.Labels ?? {}), ...(cfg.Labels ?? {}) },
      ExposedPorts: { ...((ic.ExposedPorts as Record<string, Record<string, never>>) ?? {}), ...(cfg.ExposedPorts ?? {}) },
      Volumes: { ...((ic.Volumes as Record<string, Record<string, never>>) ?? {}), ...(cfg.Volumes ?? {}) },
      StopSignal: cfg.StopSignal || ic.StopSignal || undefined,
      Healthcheck: cfg.Healthcheck ?? ic.Healthcheck ?? null,
      Image: cfg.Image,
      Tty: cfg.Tty === true,
      OpenStdin: cfg.OpenStdin === true,
      StdinOnce: cfg.StdinOnce === true,
      AttachStdin: cfg.AttachStdin === true,
      AttachStdout: cfg.AttachStdout === true,
      AttachStderr: cfg.AttachStderr === true,
    };
    if (merged.StopSignal) signalNumber(merged.StopSignal);
    const rec: ContainerRecord = {
      id,
      name,
      created: nowIso(),
      image: img.id,
      imageRef: cfg.Image,
      config: merged,
      hostConfig: hc,
      networkingConfig: opts.networkingConfig,
      path: argv[0]!,
      args: argv.slice(1),
      state: { status: 'created', pid: 0, monitorPid: 0, exitCode: 0, error: '', oomKilled: false, startedAt: ZERO_TIME, finishedAt: ZERO_TIME },
      restartCount: 0,
      manuallyStopped: false,
      rootfs: '',
      driver: this.images.driverName?.() ?? 'overlay2',
      cgroupsPath: `${cgroupParentOf(hc, this.opts.cgroupParent)}/${id}`,
      namespaces: 0,
      warnings,
    };
    try {
      await mkdir(this.paths.dir(id), { recursive: true, mode: 0o710 });
      rec.rootfs = this.images.rootfsPath(id);
      // Without volumes (which are made from the mounted rootfs and named in the record) the
      // record is written beside the rootfs: the create is answered once both are on disk,
      // and a crash between the two leaves a `created` record without a snapshot, a create
      // never acknowledged, which recovery removes.
      const volumes = needsVolumes(rec);
      // All settled before a failure is cleaned up: nothing is still being made meanwhile.
      const [rootfs, ...files] = await Promise.allSettled([
        this.images.prepareRootfs(id, img.id),
        writeFile(this.paths.hosts(id), hostsFile(hc, this.net?.hostGateway()), { mode: 0o644 }),
        writeFile(this.paths.hostname(id), hostnameFile(hc, merged.Hostname!), { mode: 0o644 }),
        writeFile(this.paths.resolvConf(id), resolvConf(hc), { mode: 0o644 }),
        ...(volumes ? [] : [saveRecord(this.paths, rec)]),
      ]);
      for (const r of [rootfs!, ...files]) if (r.status === 'rejected') throw r.reason;
      if ((rootfs as PromiseFulfilledResult<string>).value !== rec.rootfs) throw systemError(`rootfs of ${id} mounted at ${(rootfs as PromiseFulfilledResult<string>).value}, not ${rec.rootfs}`);
      trace.mark(volumes ? 'files and rootfs' : 'files, rootfs and record');
      if (volumes) {
        rec.volumeMounts = await setupVolumes(this.volumes, rec, rec.rootfs, (r) => this.get(r).rec);
        trace.mark('volumes');
        await saveRecord(this.paths, rec); // the commit point
        trace.mark('record');
      }
    } catch (e) {
      this.names.releaseName(name, id);
      await releaseVolumes(this.volumes, rec, true);
      await this.images.removeRootfs(id).catch(() => undefined);
      await removeContainerFiles(this.paths, id).catch(() => undefined);
      throw e;
    }
    this.names.add(id, name);
    this.containers.set(id, new Live(rec));
    this.emit(rec, 'create');
    trace.done();
    return { Id: id, Warnings: warnings };
  }

  // --- start ------------------------------------------------------------------------------

  private specFor(rec: ContainerRecord, rootfs: string, netnsPath?: string): Spec {
    const user = resolveUser(rootfs, rec.config.User, rec.hostConfig.GroupAdd ?? []);
    let env = [...(rec.config.Env ?? [])];
    const hostUts = rec.hostConfig.NetworkMode === 'host' || rec.hostConfig.UTSMode === 'host';
    const extra = [`HOSTNAME=${hostUts ? hostHostname() : rec.config.Hostname}`];
    if (rec.config.Tty) extra.push('TERM=xterm');
    env = mergeEnv(extra, env);
    if (!env.some((e) => e.startsWith('PATH='))) env.unshift('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
    const files = this.etcFilesOf(rec);
    const { spec } = buildSpec(rec.config, rec.hostConfig, {
      id: rec.id,
      rootfs,
      hostsPath: this.paths.hosts(files),
      hostnamePath: this.paths.hostname(files),
      resolvConfPath: this.paths.resolvConf(files),
      hostname: rec.config.Hostname ?? rec.id.slice(0, 12),
      user,
      env,
      args: [rec.path, ...rec.args],
      cwd: rec.config.WorkingDir || '/',
      cgroupsPath: rec.cgroupsPath,
      defaultUlimits: this.defaultUlimits,
      statDevice,
      joinPid: (ref) => this.joinPid(ref),
      ...(rec.hostConfig.Init ? { initPath: initBinary() } : {}),
      userNetworks: this.net !== undefined,
      ...(netnsPath ? { netnsPath } : {}),
      volumeMounts: volumeOciMounts(rec),
    });
    return spec;
  }

  private logOptions(rec: ContainerRecord): { path: string; maxSize?: number; maxFiles?: number } | undefined {
    const type = rec.hostConfig.LogConfig?.Type || this.opts.logDriver || 'json-file';
    if (type === 'none') return undefined;
    const o = { ...(this.opts.logOpts ?? {}), ...(rec.hostConfig.LogConfig?.Config ?? {}) };
    const maxSize = parseSize(o['max-size']);
    const maxFiles = o['max-file'] ? Number(o['max-file']) : undefined;
    return { path: this.paths.log(rec.id), ...(maxSize ? { maxSize } : {}), ...(maxFiles ? { maxFiles } : {}) };
  }

  override async containerStart(ref: string): Promise<void> {
    const c = this.get(ref);
    await this.locked(c, async () => {
      const st = c.rec.state.status;
      if (st === 'running' || st === 'paused') return; // dockerd: 304 Not Modified
      if (c.removing || st === 'removing') throw conflict(`container is marked for removal and cannot be started`);
      if (st === 'dead') throw conflict(`container ${c.rec.id} is dead and cannot be started`);
      if (c.restartTimer) {
        clearTimeout(c.restartTimer);
        c.restartTimer = undefined;
      }
      c.rec.manuallyStopped = false;
      try {
        await this.startLocked(c);
      } catch (e) {
        if (c.rec.hostConfig.AutoRemove) void this.removeContainer(c).catch(() => undefined);
        throw e;
      }
    });
  }

  private async startLocked(c: Live): Promise<void> {
    const rec = c.rec;
    const id = rec.id;
    const rt = this.paths.runtime(id);
    const trace = new StepTrace(`start ${id.slice(0, 12)}`, (m) => this.log('debug', m));
    let cg: CgroupManager | undefined;
    // The running record, written as soon as the container's process exists, while it sets up
    // its rootfs (the start is answered only once the record is on disk): a berthd that dies
    // from then on re-adopts the container from it instead of leaving a monitor nobody knows.
    let early: { state: RecordState; write: Promise<void> } | undefined;
    try {
      const rootfs = await this.images.mountRootfs(id);
      rec.rootfs = rootfs;
      trace.mark('mount');
      const netnsPath = await this.net?.attach(rec);
      trace.mark('network');
      const peer = this.containers.get(this.etcFilesOf(rec));
      if (peer && peer.rec.id !== id) rec.config = { ...rec.config, Hostname: peer.rec.config.Hostname, Domainname: peer.rec.config.Domainname };
      const spec = this.specFor(rec, rootfs, netnsPath);
      c.spec = spec;
      rec.namespaces = (spec.linux?.namespaces ?? []).reduce((m, n) => m | namespaceFlag(n.type), 0);
      trace.mark('spec');
      // berth-monitor and berth-init start first and wait for the program on its pipe, while
      // this thread makes the cgroup and compiles; the limits are written (thread pool) meanwhile
      // and are in place before the program is sent, so before the process joins the cgroup.
      rmSync(rt, { recursive: true, force: true });
      mkdirSync(rt, { recursive: true, mode: 0o700 });
      const program = deferredProgram();
      // `docker run` attaches before it starts: that one client gets the monitor's first
      // connection (`--attach-fd`), and the program needs no sync point for berthd to connect
      // it. Several: they connect at a `SYNC attach` before READY.
      const handOver = c.pendingAttach.size === 1 ? [...c.pendingAttach][0] : undefined;
      if (handOver) c.pendingAttach.delete(handOver);
      const syncAttach = c.pendingAttach.size > 0;
      c.exited = deferred();
      const log = this.logOptions(rec);
      const tty = rec.config.Tty === true;
      const runningState = (startedAt: string, pids: { monitorPid: number; containerPid: number }): RecordState => ({
        ...rec.state,
        status: 'running',
        pid: pids.containerPid,
        monitorPid: pids.monitorPid,
        exitCode: 0,
        error: '',
        oomKilled: false,
        startedAt,
        ...(rec.config.Healthcheck?.Test?.length && rec.config.Healthcheck.Test[0] !== 'NONE' ? { health: { Status: 'starting', FailingStreak: 0, Log: [] } } : {}),
      });
      // The record's content is fsync'd, its rename only when a restart policy brings the
      // container back at boot: after a power loss the container is gone either way, and
      // the previous record (created, or exited) is what dockerd would show too (it does not
      // fsync the directory). A berthd crash alone loses nothing: the rename is in the kernel.
      const syncDir = restartsAfterBoot(rec);
      let startedAt = nowIso();
      const monitor = startMonitor({
        program: program.promise,
        pidFile: this.paths.pidFile(id),
        exitFile: this.paths.exitFile(id),
        ...(log ? { log } : {}),
        attachSocket: this.paths.attachSocket(id),
        ...(tty ? { consoleSocket: this.paths.consoleSocket(id) } : {}),
        stdin: rec.config.OpenStdin === true,
        stderrPath: this.paths.monitorErr(id),
        initPath: await sealedInitPath(),
        onStep: (step) => trace.mark(step),
        onPid: (pids) => {
          trace.mark('init to pid');
          startedAt = nowIso(); // the container's process exists from now on
          const state = runningState(startedAt, pids);
          early = { state, write: saveRecord(this.paths, { ...rec, state }, { syncDir }) };
          early.write.catch(() => undefined); // awaited below, or before the failure is recorded
        },
        onSync: async () => {
          trace.mark('pid to sync');
          const pending = [...c.pendingAttach];
          c.pendingAttach.clear();
          await Promise.all(pending.map((p) => p().catch(() => undefined)));
          trace.mark(`attach(${pending.length})`);
        },
        connectAttach: handOver !== undefined,
        spawner: this.spawner.socket(),
      });
      monitor.catch(() => undefined); // awaited below, after the program is sent or refused
      try {
        cg = this.cgroup(rec);
        await cg.create();
        trace.mark('cgroup');
        const limits = cg.apply(createResources(spec));
        limits.catch(() => undefined); // a compile error below leaves it unawaited
        const seccomp = spec.linux?.seccomp ? compileSeccompCached(spec.linux.seccomp, 'seccomp profile') : undefined;
        const ops = compileCreate({
          spec,
          rootfs,
          bundle: this.paths.dir(id),
          mode: 'detached',
          cgroupProcs: cg.procsFiles(),
          ...(seccomp ? { seccomp } : {}),
          pidFile: this.paths.pidFile(id),
          containerId: id,
          ...(tty ? { consoleSocket: this.paths.consoleSocket(id) } : {}),
        });
        const encoded = encodeInitProgram(syncAttach ? syncBeforeReady(ops, 'attach') : ops);
        trace.mark('compile');
        await limits;
        trace.mark('limits');
        program.resolve(encoded);
      } catch (e) {
        program.reject(e); // berth-init reads a truncated program and ends; its monitor too
        await monitor.catch(() => undefined);
        if (handOver) void handOver(); // it fails to connect and ends
        throw e;
      }
      const started = await monitor.catch((e: unknown) => {
        if (handOver) void handOver(); // it fails to connect and ends
        throw e;
      });
      if (handOver) void handOver(started.attach);
      // Attach sessions that came while the monitor started: the process runs already.
      for (const p of [...c.pendingAttach]) void p();
      c.pendingAttach.clear();
      trace.mark('ready');
      const state = runningState(startedAt, started);
      if (early && early.state.pid === state.pid && early.state.monitorPid === state.monitorPid) {
        const write = early.write;
        early = undefined;
        await write;
      } else {
        await early?.write.catch(() => undefined);
        early = undefined;
        await saveRecord(this.paths, { ...rec, state }, { syncDir });
      }
      rec.state = state;
      trace.mark('record');
      this.watchExit(c);
      this.emit(rec, 'start');
      this.startHealthcheck(c);
      trace.done();
    } catch (e) {
      // Nothing of the run stays: the cgroup's processes, the cgroup, the runtime dir.
      await early?.write.catch(() => undefined); // the failure's record goes after it
      if (cg) await this.killCgroupOf(rec.cgroupsPath);
      await this.net?.detach(id);
      await rm(rt, { recursive: true, force: true }).catch(() => undefined);
      const msg = errorMessage(e);
      rec.state = { ...rec.state, status: rec.state.status === 'restarting' ? 'exited' : rec.state.status, error: msg, exitCode: /not found|ENOENT|no such file/i.test(msg) ? 127 : 126, pid: 0, monitorPid: 0 };
      await this.save(c).catch(() => undefined);
      // attach sessions waiting for this start: they fail to connect and end
      for (const p of [...c.pendingAttach]) void p();
      c.pendingAttach.clear();
      if (isBerthError(e) && e.kind !== 'System') throw e;
      throw new BerthError('System', `failed to start container ${id}: ${msg}`, { cause: e });
    }
  }

  /** Notices the exit file (inotify on the runtime dir, and a slow poll as a safety net). */
  private watchExit(c: Live): void {
    const id = c.rec.id;
    const check = (): void => {
      void readExitFile(this.paths.exitFile(id)).then(
        (st) => {
          if (st) void this.locked(c, () => this.handleExit(c, st));
        },
        () => undefined,
      );
    };
    c.watcher?.close();
    try {
      c.watcher = watch(this.paths.runtime(id), (_ev, file) => {
        if (file === 'exit') check();
      });
      c.watcher.on('error', () => undefined);
    } catch {
      c.watcher = undefined;
    }
    if (c.poll) clearInterval(c.poll);
    c.poll = setInterval(() => {
      check();
      if (!this.monitorAlive(c.rec.state.monitorPid) && isRunning(c.rec)) {
        void readExitFile(this.paths.exitFile(id)).then((st) => {
          if (!st) void this.locked(c, () => this.handleExit(c, undefined, 'berth-monitor died'));
        });
      }
    }, 1000);
    c.poll.unref();
    check();
  }

  private stopWatching(c: Live): void {
    c.watcher?.close();
    c.watcher = undefined;
    if (c.poll) clearInterval(c.poll);
    c.poll = undefined;
    if (c.healthTimer) clearTimeout(c.healthTimer);
    c.healthTimer = undefined;
  }

  /**
   * The end of a run: record it, wake waiters, then clean the mounts and restart or
   * auto-remove. The answer comes first: what is cleaned after it (runtime dir, rootfs) is
   * still done under the container's lock, so the next operation on it waits for it.
   */
  private async handleExit(c: Live, st: ExitStatus | undefined, error?: string): Promise<void> {
    const rec = c.rec;
    if (!isRunning(rec) && rec.state.status !== 'restarting') return;
    const trace = new StepTrace(`exit ${rec.id.slice(0, 12)}`, (m) => this.log('debug', m));
    if (st) trace.mark(`noticed(${Date.now() - Number(st.finishedAtNs / 1_000_000n)} ms after the exit)`);
    this.stopWatching(c);
    const cg = this.cgroup(rec);
    const oom = (await cg.oomKillCount().catch(() => 0)) > 0;
    trace.mark('oom');
    await this.killCgroupOf(rec.cgroupsPath, { destroy: false }); // removed once waiters are answered
    trace.mark('cgroup');
    await this.net?.detach(rec.id);
    trace.mark('network');
    const ranMs = Date.now() - Date.parse(rec.state.startedAt);
    rec.state = {
      ...rec.state,
      status: 'exited',
      pid: 0,
      monitorPid: 0,
      exitCode: st ? st.exitCode : 255,
      finishedAt: st ? rfc3339Nano(st.finishedAt, Number(st.finishedAtNs % 1_000_000n)) : nowIso(),
      oomKilled: oom,
      error: error ?? '',
    };
    if (rec.state.health) rec.state.health = { ...rec.state.health, Status: 'unhealthy' === rec.state.health.Status ? 'unhealthy' : rec.state.health.Status };
    const policy = rec.hostConfig.RestartPolicy?.Name ?? '';
    const max = rec.hostConfig.RestartPolicy?.MaximumRetryCount ?? 0;
    const restart =
      !rec.manuallyStopped &&
      !this.closed &&
      (policy === 'always' || policy === 'unless-stopped' || (policy === 'on-failure' && rec.state.exitCode !== 0 && (max === 0 || rec.restartCount < max)));
    // An auto-removed container is not written again: the `running` record on disk, its
    // monitor gone, already brings a restarted berthd (crash or reboot) to this same exit and
    // removal, so the removal's answer does not wait for a write.
    const autoRemove = !restart && rec.hostConfig.AutoRemove === true && !c.removing;
    if (autoRemove) {
      c.removing = true;
      rec.state.status = 'removing';
    } else {
      await this.save(c);
    }
    trace.mark('record');
    this.launches.cancelContainer(rec.id); // started for this run only
    for (const ex of this.execs.values()) {
      // The container's end killed its execs: their status if their monitor wrote it, else SIGKILL's.
      if (ex.containerId !== rec.id || !ex.running) continue;
      const execExit = await readExitFile(join(ex.dir, 'exit')).catch(() => undefined);
      await this.execExited(rec, ex, execExit?.exitCode ?? 137);
    }
    if (oom) this.emit(rec, 'oom');
    this.emit(rec, 'die', { exitCode: String(rec.state.exitCode), execDuration: String(Math.max(0, Math.round(ranMs / 1000))) });
    c.exited.resolve();
    this.wake(c, ['next-exit', 'not-running']);

    if (autoRemove) {
      await this.finishRemove(c, trace).catch((e: unknown) => this.log('error', `auto-remove ${rec.id}: ${errorMessage(e)}`));
      return;
    }
    await this.killCgroupOf(rec.cgroupsPath);
    await rm(this.paths.runtime(rec.id), { recursive: true, force: true }).catch(() => undefined);
    await this.images.unmountRootfs(rec.id).catch(() => undefined);
    if (restart) {
      // Docker's back-off: 100 ms doubling to 1 min, back to 100 ms after 10 s of running.
      c.backoffMs = ranMs >= 10_000 || c.backoffMs === 0 ? 100 : Math.min(c.backoffMs * 2, 60_000);
      this.scheduleRestart(c, rec.state.exitCode, c.backoffMs);
    }
  }

  private scheduleRestart(c: Live, _exitCode: number, delayMs: number): void {
    c.rec.state.status = 'restarting';
    void this.save(c);
    c.restartTimer = setTimeout(() => {
      c.restartTimer = undefined;
      void this.locked(c, async () => {
        if (c.rec.state.status !== 'restarting' || c.removing) return;
        c.rec.restartCount++;
        try {
          await this.startLocked(c);
          this.emit(c.rec, 'restart');
        } catch (e) {
          this.log('warn', `restart of ${c.rec.id} failed: ${errorMessage(e)}`);
          c.rec.state.status = 'exited';
          await this.save(c);
        }
      });
    }, delayMs);
  }

  private wake(c: Live, conditions: WaitCondition[]): void {
    const result: ContainerWaitResponse = { StatusCode: c.rec.state.exitCode, Error: c.rec.state.error ? { Message: c.rec.state.error } : null };
    c.waiters = c.waiters.filter((w) => {
      if (!conditions.includes(w.condition)) return true;
      w.resolve(result);
      return false;
    });
  }

  // --- stop, kill, restart, pause ---------------------------------------------------------

  private signal(c: Live, sig: NodeJS.Signals | number): void {
    try {
      process.kill(c.rec.state.pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw systemError(`signal container ${c.rec.id}: ${(e as Error).message}`, e);
    }
  }

  private async waitExit(c: Live, ms: number): Promise<boolean> {
    if (!isRunning(c.rec)) return true;
    if (ms < 0) {
      await c.exited.promise;
      return true;
    }
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => (t = setTimeout(() => r(false), ms)));
    const done = await Promise.race([c.exited.promise.then(() => true), timeout]);
    clearTimeout(t);
    return done;
  }

  private async stopContainer(c: Live, opts: ContainerStopOptions): Promise<void> {
    const rec = c.rec;
    if (rec.state.status === 'restarting' || c.restartTimer) {
      if (c.restartTimer) clearTimeout(c.restartTimer);
      c.restartTimer = undefined;
      rec.manuallyStopped = true;
      if (rec.state.status === 'restarting') rec.state.status = 'exited';
      await this.save(c);
      if (!isRunning(rec)) return;
    }
    if (!isRunning(rec)) return; // dockerd: 304
    rec.manuallyStopped = true;
    await this.save(c);
    const sig = signalNumber(opts.signal ?? rec.config.StopSignal ?? undefined, 'SIGTERM');
    const timeout = opts.timeout ?? rec.config.StopTimeout ?? 10;
    this.emit(rec, 'kill', { signal: String(typeof sig === 'number' ? sig : osSignals[sig]) });
    this.signal(c, sig);
    if (rec.state.status === 'paused') await this.cgroup(rec).thaw().catch(() => undefined);
    if (!(await this.waitExit(c, timeout < 0 ? -1 : timeout * 1000))) {
      this.emit(rec, 'kill', { signal: '9' });
      await this.cgroup(rec).kill('SIGKILL').catch(() => undefined);
      this.signal(c, 'SIGKILL');
      if (!(await this.waitExit(c, 30_000))) throw systemError(`container ${rec.id} did not exit after SIGKILL`);
    }
    this.emit(rec, 'stop');
  }

  override async containerStop(ref: string, opts: ContainerStopOptions): Promise<void> {
    await this.stopContainer(this.get(ref), opts);
  }

  override async containerRestart(ref: string, opts: ContainerStopOptions): Promise<void> {
    const c = this.get(ref);
    await this.stopContainer(c, opts);
    await this.locked(c, async () => {
      if (isRunning(c.rec)) return;
      c.rec.manuallyStopped = false;
      await this.startLocked(c);
    });
    this.emit(c.rec, 'restart');
  }

  override async containerKill(ref: string, signal: string | undefined): Promise<void> {
    const c = this.get(ref);
    const sig = signalNumber(signal, 'SIGKILL');
    if (!isRunning(c.rec)) throw conflict(`Container ${c.rec.id} is not running`);
    c.rec.manuallyStopped = true;
    await this.save(c);
    this.emit(c.rec, 'kill', { signal: String(typeof sig === 'number' ? sig : osSignals[sig]) });
    this.signal(c, sig);
    if (c.rec.state.status === 'paused' && (sig === 'SIGKILL' || sig === 9)) await this.cgroup(c.rec).thaw().catch(() => undefined);
  }

  override async containerPause(ref: string): Promise<void> {
    const c = this.get(ref);
    await this.locked(c, async () => {
      if (c.rec.state.status === 'paused') throw conflict(`Container ${c.rec.id} is already paused`);
      if (c.rec.state.status !== 'running') throw conflict(`Container ${c.rec.id} is not running`);
      await this.cgroup(c.rec).freeze();
      c.rec.state.status = 'paused';
      await this.save(c);
      this.emit(c.rec, 'pause');
    });
  }

  override async containerUnpause(ref: string): Promise<void> {
    const c = this.get(ref);
    await this.locked(c, async () => {
      if (c.rec.state.status !== 'paused') throw conflict(`Container ${c.rec.id} is not paused`);
      await this.cgroup(c.rec).thaw();
      c.rec.state.status = 'running';
      await this.save(c);
      this.emit(c.rec, 'unpause');
    });
  }

  // --- wait and remove --------------------------------------------------------------------

  override async containerWait(ref: string, condition: WaitCondition, signal: AbortSignal): Promise<{ result: Promise<ContainerWaitResponse> }> {
    const c = this.get(ref);
    const now = (): ContainerWaitResponse => ({ StatusCode: c.rec.state.exitCode, Error: c.rec.state.error ? { Message: c.rec.state.error } : null });
    if (condition === 'not-running' && !RUNNING.includes(c.rec.state.status)) return { result: Promise.resolve(now()) };
    const result = new Promise<ContainerWaitResponse>((resolve) => {
      const w: Waiter = { condition, resolve };
      c.waiters.push(w);
      signal.addEventListener('abort', () => {
        c.waiters = c.waiters.filter((x) => x !== w);
        resolve(now());
      });
    });
    return { result };
  }

  override async containerRemove(ref: string, opts: ContainerRemoveOptions): Promise<void> {
    const c = this.get(ref);
    if (opts.link) throw invalidParameter('links are not supported by this Berth daemon');
    if (RUNNING.includes(c.rec.state.status) || c.restartTimer) {
      if (!opts.force) {
        throw conflict(`cannot remove container "${c.rec.name}": container is ${c.rec.state.status}: stop the container before removing or force remove`);
      }
      c.removing = true;
      if (c.restartTimer) clearTimeout(c.restartTimer);
      c.restartTimer = undefined;
      c.rec.manuallyStopped = true;
      if (isRunning(c.rec)) {
        this.signal(c, 'SIGKILL');
        await this.cgroup(c.rec).thaw().catch(() => undefined);
        await this.cgroup(c.rec).kill('SIGKILL').catch(() => undefined);
        if (!(await this.waitExit(c, 30_000))) throw systemError(`container ${c.rec.id} did not exit after SIGKILL`);
      }
    }
    if (c.removing && !this.containers.has(c.rec.id)) return;
    if (opts.volumes) markRemoveVolumes(c.rec.id);
    await this.removeContainer(c);
  }

  private async removeContainer(c: Live): Promise<void> {
    c.removing = true;
    await this.locked(c, async () => {
      if (!this.containers.has(c.rec.id)) return;
      c.rec.state.status = 'removing';
      await this.save(c);
      await this.finishRemove(c);
    });
  }

  /**
   * Removes a container marked `removing` on disk. Its processes, network and volumes go
   * before the `removed` waiters are answered; its rootfs and files after (a crash meanwhile
   * leaves the `removing` record, or an auto-removed container's `running` one, which
   * recovery finishes).
   */
  private async finishRemove(c: Live, trace = new StepTrace(`remove ${c.rec.id.slice(0, 12)}`, (m) => this.log('debug', m))): Promise<void> {
    const rec = c.rec;
    this.stopWatching(c);
    this.launches.cancelContainer(rec.id);
    const execSaves: Promise<void>[] = [];
    for (const [id, ex] of this.execs) {
      if (ex.containerId !== rec.id) continue;
      execSaves.push(ex.saved);
      this.execs.delete(id);
    }
    await this.killCgroupOf(rec.cgroupsPath, { destroy: false }); // its directories go after the answer
    await this.net?.detach(rec.id);
    await releaseVolumes(this.volumes, rec);
    trace.mark('release');
    this.names.remove(rec.id, rec.name);
    this.containers.delete(rec.id);
    this.emit(rec, 'destroy');
    this.wake(c, ['removed', 'next-exit', 'not-running']);
    const files = (async (): Promise<void> => {
      await this.killCgroupOf(rec.cgroupsPath);
      await this.images.removeRootfs(rec.id);
      trace.mark('rootfs');
      await Promise.all(execSaves); // a record written after the removal would bring the directory back
      await removeContainerFiles(this.paths, rec.id);
      this.execStore.forget(rec.id);
      trace.mark('files');
      trace.done();
    })();
    this.removals.add(files);
    try {
      await files;
    } finally {
      this.removals.delete(files);
    }
  }

  override async containerPrune(filters: Record<string, string[]>): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }> {
    const untilS = filters.until?.[0];
    const until = untilS ? (/^\d+(\.\d+)?$/.test(untilS) ? Number(untilS) * 1000 : Date.parse(untilS)) : undefined;
    const labelOk = filters.label ? containerFilter({ label: filters.label }, { lookup: (r) => this.get(r).rec, imageMatches: () => true }) : () => true;
    const deleted: string[] = [];
    let space = 0;
    for (const c of [...this.containers.values()]) {
      if (RUNNING.includes(c.rec.state.status)) continue;
      if (until !== undefined && Date.parse(c.rec.created) >= until) continue;
      if (!labelOk(c.rec)) continue;
      space += (await this.images.rootfsSize?.(c.rec.id).catch(() => 0)) ?? 0;
      await this.removeContainer(c);
      deleted.push(c.rec.id);
    }
    return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: space };
  }

  // --- inspect and list -------------------------------------------------------------------

  private mountPoints(rec: ContainerRecord): MountPoint[] {
    const out: MountPoint[] = [];
    for (const b of rec.hostConfig.Binds ?? []) {
      if (isVolumeBind(b)) continue; // volumeMountPoints
      const [src = '', dst = '', mode = ''] = b.split(':');
      out.push({ Type: 'bind', Source: src, Destination: dst, Mode: mode, RW: !mode.split(',').includes('ro'), Propagation: 'rprivate' });
    }
    for (const m of rec.hostConfig.Mounts ?? []) {
      if (m.Type === 'volume') continue;
      out.push({ Type: m.Type ?? 'bind', Source: m.Source ?? '', Destination: m.Target ?? '', Mode: '', RW: !m.ReadOnly, Propagation: m.Type === 'bind' ? (m.BindOptions?.Propagation || 'rprivate') : '' });
    }
    for (const dst of Object.keys(rec.hostConfig.Tmpfs ?? {})) out.push({ Type: 'tmpfs', Source: '', Destination: dst, Mode: '', RW: true, Propagation: '' });
    out.push(...volumeMountPoints(rec));
    return out;
  }

  private statusText(rec: ContainerRecord): string {
    const s = rec.state;
    switch (s.status) {
      case 'created':
        return 'Created';
      case 'running':
      case 'paused': {
        const health = s.health && s.health.Status !== 'none' ? ` (${s.health.Status === 'starting' ? 'health: starting' : s.health.Status})` : '';
        return `Up ${since(s.startedAt)}${s.status === 'paused' ? ' (Paused)' : health}`;
      }
      case 'restarting':
        return `Restarting (${s.exitCode}) ${since(s.finishedAt)} ago`;
      case 'removing':
        return 'Removal In Progress';
      case 'dead':
        return 'Dead';
      default:
        return `Exited (${s.exitCode}) ${since(s.finishedAt)} ago`;
    }
  }

  private networks(rec: ContainerRecord): Record<string, Record<string, unknown>> {
    const mode = rec.hostConfig.NetworkMode || 'default';
    const name = mode === 'default' ? 'bridge' : mode;
    if (mode.startsWith('container:')) return {};
    return {
      [name]: {
        IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '',
        IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DriverOpts: null, DNSNames: null,
      },
    };
  }

  override async containerInspect(ref: string, opts: { size: boolean }): Promise<ContainerInspect> {
    const c = this.get(ref);
    const rec = c.rec;
    const s = rec.state;
    // dockerd's: the execs created and not ended (an ended one stays inspectable by its id)
    const execIds = [...this.execs.values()].filter((e) => e.containerId === rec.id && (e.running || !e.started)).map((e) => e.id);
    const out: ContainerInspect = {
      Id: rec.id,
      Created: rec.created,
      Path: rec.path,
      Args: rec.args,
      State: {
        Status: s.status,
        Running: isRunning(rec),
        Paused: s.status === 'paused',
        Restarting: s.status === 'restarting',
        OOMKilled: s.oomKilled,
        Dead: s.status === 'dead',
        Pid: s.pid,
        ExitCode: s.exitCode,
        Error: s.error,
        StartedAt: s.startedAt,
        FinishedAt: s.finishedAt,
        ...(s.health ? { Health: s.health } : {}),
      },
      Image: rec.image,
      ResolvConfPath: this.paths.resolvConf(this.etcFilesOf(rec)),
      HostnamePath: this.paths.hostname(this.etcFilesOf(rec)),
      HostsPath: this.paths.hosts(this.etcFilesOf(rec)),
      LogPath: this.logOptions(rec) ? this.paths.log(rec.id) : '',
      Name: rec.name,
      RestartCount: rec.restartCount,
      Driver: rec.driver,
      Platform: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      ExecIDs: execIds.length ? execIds : null,
      HostConfig: {
        ...rec.hostConfig,
        LogConfig: { Type: rec.hostConfig.LogConfig?.Type || this.opts.logDriver || 'json-file', Config: rec.hostConfig.LogConfig?.Config ?? this.opts.logOpts ?? {} },
        RestartPolicy: { Name: rec.hostConfig.RestartPolicy?.Name || 'no', MaximumRetryCount: rec.hostConfig.RestartPolicy?.MaximumRetryCount ?? 0 },
        ShmSize: rec.hostConfig.ShmSize || 64 * 1024 * 1024,
      },
      GraphDriver: { Name: rec.driver, Data: rec.rootfs ? { MergedDir: rec.rootfs } : null },
      Mounts: this.mountPoints(rec),
      Config: rec.config,
      NetworkSettings: this.net ? this.net.settings(rec, isRunning(rec)) : {
        Bridge: '', SandboxID: '', SandboxKey: '', Ports: {}, HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
        SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: '', Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
        IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', MacAddress: '',
        Networks: this.networks(rec),
      },
    };
    if (opts.size) {
      out.SizeRw = (await this.images.rootfsSize?.(rec.id).catch(() => 0)) ?? 0;
      out.SizeRootFs = out.SizeRw;
    }
    return out;
  }

  private imageMatches(rec: ContainerRecord, ref: string): boolean {
    const bare = ref.replace(/^sha256:/, '');
    if (/^[0-9a-f]{4,64}$/.test(bare) && rec.image.slice(7).startsWith(bare)) return true;
    try {
      const a = formatReference(parseNormalizedReference(ref));
      const b = formatReference(parseNormalizedReference(rec.imageRef));
      if (a === b) return true;
      // "busybox" (no tag) matches every tag of busybox
      if (!/[:@]/.test(ref.split('/').pop() ?? '') && b.startsWith(`${a.replace(/:latest$/, '')}:`)) return true;
    } catch {
      return false;
    }
    return false;
  }

  override async containerList(opts: ContainerListOptions): Promise<ContainerSummary[]> {
    const netSettings = (rec: ContainerRecord): { Networks?: Record<string, { NetworkID?: string }>; Ports?: Record<string, unknown[] | null> } =>
      (this.net ? this.net.settings(rec, isRunning(rec)) : { Networks: this.networks(rec) }) as never;
    const pred = containerFilter(opts.filters, {
      lookup: (r) => this.get(r).rec,
      imageMatches: (rec, ref) => this.imageMatches(rec, ref),
      mounts: (rec) => this.mountPoints(rec),
      networks: (rec) => Object.entries(netSettings(rec).Networks ?? {}).map(([name, n]) => ({ name, id: n.NetworkID ?? '' })),
      publishedPorts: (rec) => Object.entries(netSettings(rec).Ports ?? {}).filter(([, b]) => (b?.length ?? 0) > 0).map(([p]) => p),
    });
    let recs = [...this.containers.values()].map((c) => c.rec);
    const wantsAll = opts.all || opts.limit > 0 || opts.filters.before?.length || opts.filters.since?.length || opts.filters.exited?.length || opts.filters.status?.length;
    if (!wantsAll) recs = recs.filter((r) => r.state.status === 'running' || r.state.status === 'paused' || r.state.status === 'restarting');
    // Newest first, by time: the RFC 3339 strings drop trailing zeros and do not sort as text.
    recs = recs.filter(pred).sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
    if (opts.limit > 0) recs = recs.slice(0, opts.limit);
    const out: ContainerSummary[] = [];
    for (const rec of recs) {
      const cmd = [rec.path, ...rec.args].join(' ');
      const s: ContainerSummary = {
        Id: rec.id,
        Names: [rec.name],
        Image: rec.imageRef,
        ImageID: rec.image,
        Command: cmd,
        Created: Math.floor(Date.parse(rec.created) / 1000),
        Ports: this.net?.summaryPorts(rec, isRunning(rec)) ?? [],
        Labels: rec.config.Labels ?? {},
        State: rec.state.status,
        Status: this.statusText(rec),
        HostConfig: { NetworkMode: rec.hostConfig.NetworkMode || 'default' },
        NetworkSettings: { Networks: (this.net ? this.net.settings(rec, isRunning(rec)).Networks : this.networks(rec)) as never },
        Mounts: this.mountPoints(rec),
      };
      if (opts.size) {
        s.SizeRw = (await this.images.rootfsSize?.(rec.id).catch(() => 0)) ?? 0;
        s.SizeRootFs = s.SizeRw;
      }
      out.push(s);
    }
    return out;
  }

  override async containerRename(ref: string, newName: string): Promise<void> {
    const c = this.get(ref);
    if (!newName) throw invalidParameter('Neither old nor new names may be empty');
    const name = validateName(newName);
    if (name === c.rec.name) throw invalidParameter(`Renaming a container with the same name as its current name`);
    await this.locked(c, async () => {
      const old = c.rec.name;
      this.names.reserve(c.rec.id, name);
      c.rec.name = name;
      try {
        await this.save(c);
      } catch (e) {
        c.rec.name = old;
        this.names.releaseName(name, c.rec.id);
        throw e;
      }
      this.names.releaseName(old, c.rec.id);
      this.emit(c.rec, 'rename', { oldName: old });
    });
  }

  override async containerUpdate(ref: string, update: ContainerUpdateConfig): Promise<ContainerUpdateResponse> {
    const c = this.get(ref);
    return this.locked(c, async () => {
      const rec = c.rec;
      const { RestartPolicy, ...resources } = update;
      const merged: HostConfig = { ...rec.hostConfig };
      for (const [k, v] of Object.entries(resources)) if (v !== undefined && v !== null) (merged as Record<string, unknown>)[k] = v;
      // Docker: a new memory limit above the old swap limit moves swap along (as -1 would).
      if (resources.Memory && !resources.MemorySwap && rec.hostConfig.MemorySwap && rec.hostConfig.MemorySwap > 0 && resources.Memory > rec.hostConfig.MemorySwap) merged.MemorySwap = resources.Memory * 2;
      if (resources.NanoCpus) {
        merged.CpuQuota = 0;
        merged.CpuPeriod = 0;
      }
      validateResources(merged, this.host, true);
      if (RestartPolicy) {
        if (RestartPolicy.Name && rec.hostConfig.AutoRemove && RestartPolicy.Name !== 'no') throw invalidParameter(`Restart policy cannot be updated because AutoRemove is enabled for the container`);
        merged.RestartPolicy = RestartPolicy;
        this.validateHostConfig({ ...merged });
      }
      const { BerthEgressRate, BerthIngressRate, ...cgroupResources } = resources;
      if (BerthEgressRate !== undefined || BerthIngressRate !== undefined) {
        if (!this.net) throw invalidParameter('bandwidth limits need bridge networking, which this Berth daemon does not have');
        await this.net.updateRates(rec, { ...(BerthEgressRate !== undefined ? { BerthEgressRate } : {}), ...(BerthIngressRate !== undefined ? { BerthIngressRate } : {}) }, isRunning(rec));
      }
      if (isRunning(rec)) {
        const delta = linuxResources(cgroupResources, statDevice);
        if (delta.memory && merged.Memory) {
          delta.memory.limit = merged.Memory;
          if (merged.MemorySwap) delta.memory.swap = merged.MemorySwap;
        }
        try {
          await this.cgroup(rec).apply(delta);
        } catch (e) {
          throw isBerthError(e) ? new BerthError(e.kind === 'System' ? 'InvalidParameter' : e.kind, `Cannot update container ${rec.id}: ${e.message}`) : e;
        }
      }
      rec.hostConfig = merged;
      await this.save(c);
      this.emit(rec, 'update');
      return { Warnings: [] };
    });
  }

  // --- logs -------------------------------------------------------------------------------

  override async containerLogs(ref: string, opts: ContainerLogsOptions): Promise<ContainerLogs> {
    const c = this.get(ref);
    const rec = c.rec;
    const type = rec.hostConfig.LogConfig?.Type || this.opts.logDriver || 'json-file';
    if (type === 'none') throw invalidParameter(`configured logging driver does not support reading`);
    const tail = opts.tail === 'all' || opts.tail === '' ? undefined : Number(opts.tail);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) {
      // dockerd treats a bad tail as "all"
    }
    const toNs = (s: number): bigint => BigInt(Math.floor(s * 1e6)) * 1000n;
    const iter = readJsonLogBatches(this.paths.log(rec.id), {
      follow: opts.follow && RUNNING.includes(rec.state.status),
      ...(tail !== undefined && Number.isInteger(tail) && tail >= 0 ? { tail } : {}),
      ...(opts.since ? { since: toNs(opts.since) } : {}),
      ...(opts.until ? { until: toNs(opts.until) } : {}),
      stopWhen: () => !RUNNING.includes(c.rec.state.status) || !this.containers.has(rec.id),
      signal: opts.signal,
      pollMs: 50,
    });
    async function* messages(): AsyncGenerator<LogMessage[]> {
      for await (const batch of iter) {
        const out: LogMessage[] = [];
        for (const e of batch) {
          if (e.stream === 'stdout' ? opts.stdout : opts.stderr) out.push({ stream: e.stream, line: e.log, timestamp: e.time });
        }
        if (out.length) yield out;
      }
    }
    return { tty: rec.config.Tty === true, messages: messages() };
  }

  // --- attach -----------------------------------------------------------------------------

  override async containerAttach(ref: string, opts: AttachOptions): Promise<StreamSession> {
    const c = this.get(ref);
    const rec = c.rec;
    const detachKeys = parseDetachKeys(opts.detachKeys || DEFAULT_DETACH_KEYS);
    if (!opts.logs && opts.stream && ['exited', 'dead', 'removing'].includes(rec.state.status)) {
      throw conflict('You cannot attach to a stopped container, start it first');
    }
    if (rec.state.status === 'paused') throw conflict(`You cannot attach to a paused container, unpause it first`);
    const tty = rec.config.Tty === true;
    return {
      tty,
      run: async (streams: SessionStreams) => {
        if (opts.logs) {
          for await (const e of readJsonLog(this.paths.log(rec.id))) {
            if (streams.signal.aborted) return;
            const target = e.stream === 'stderr' ? (opts.stderr ? streams.stderr : undefined) : opts.stdout ? streams.stdout : undefined;
            target?.write(Buffer.from(e.log));
          }
        }
        if (!opts.stream) return;
        let conn: AttachConnection | undefined;
        if (c.rec.state.status === 'created' || c.rec.state.status === 'restarting') {
          // Connect at berth-init's sync point, before the process runs: no output is missed.
          conn = await new Promise<AttachConnection | undefined>((resolve) => {
            let aborted = false;
            const connect = async (given?: Socket): Promise<void> => {
              if (aborted) {
                given?.destroy();
                return;
              }
              try {
                const conn = given ? new AttachConnection(given) : await attach(this.paths.attachSocket(rec.id));
                conn.on('error', () => undefined);
                resolve(conn);
              } catch {
                resolve(undefined);
              }
            };
            c.pendingAttach.add(connect);
            streams.signal.addEventListener('abort', () => {
              aborted = true;
              c.pendingAttach.delete(connect);
              resolve(undefined);
            });
          });
        } else if (isRunning(c.rec)) {
          conn = await attach(this.paths.attachSocket(rec.id)).catch(() => undefined);
          conn?.on('error', () => undefined);
        }
        if (!conn) return;
        this.emit(rec, 'attach');
        const end = await pump(conn, streams, {
          tty,
          stdin: opts.stdin && rec.config.OpenStdin === true,
          stdout: opts.stdout,
          stderr: opts.stderr,
          stdinOnce: rec.config.StdinOnce === true,
          detachKeys,
        });
        if (end === 'detached') this.emit(rec, 'detach');
        if (end === 'exited') await Promise.race([c.exited.promise, new Promise((r) => setTimeout(r, 2000))]);
      },
    };
  }

  private async resizeVia(socket: string, height: number, width: number): Promise<void> {
    const conn = await attach(socket).catch(() => undefined);
    if (!conn) return;
    conn.on('error', () => undefined); // the container may exit meanwhile
    conn.resize(height, width);
    await new Promise((r) => setTimeout(r, 20));
    conn.destroy();
  }

  override async containerResize(ref: string, height: number, width: number): Promise<void> {
    const c = this.get(ref);
    if (!isRunning(c.rec)) throw conflict(`Container ${c.rec.id} is not running`);
    if (!c.rec.config.Tty) return;
    await this.resizeVia(this.paths.attachSocket(c.rec.id), height, width);
  }

  // --- exec -------------------------------------------------------------------------------

  override async execCreate(ref: string, config: ExecCreateRequest): Promise<{ Id: string }> {
    return this.createExec(ref, config, true);
  }

  /** A health check's exec (persist false) neither takes the container's spare launch nor leaves one. */
  private createExec(ref: string, config: ExecCreateRequest, persist: boolean): { Id: string } {
    const c = this.get(ref);
    if (c.rec.state.status === 'paused') throw conflict(`Container ${c.rec.id} is paused, unpause the container before exec`);
    if (!isRunning(c.rec)) throw conflict(`Container ${c.rec.id} is not running`);
    if (config.DetachKeys) parseDetachKeys(config.DetachKeys);
    const attaches = config.AttachStdin === true || config.AttachStdout === true || config.AttachStderr === true;
    const claimed = persist && attaches ? this.launches.claim(c.rec.id, execShape(config)) : undefined;
    const id = claimed ?? newContainerId();
    this.execs.set(id, {
      id,
      containerId: c.rec.id,
      config,
      running: false,
      started: false,
      exitCode: null,
      pid: 0,
      monitorPid: 0,
      dir: this.paths.execDir(c.rec.id, id),
      done: deferred(),
      persist,
      saved: Promise.resolve(),
    });
    this.emit(c.rec, `exec_create: ${config.Cmd.join(' ')}`, { execID: id });
    // With a launch waiting, the start only sends the program: compile it now, once the
    // answer is written, while the client sends the start.
    if (claimed) setImmediate(() => this.precompileExec(id));
    return { Id: id };
  }

  private exec(id: string): ExecRecord {
    const ex = this.execs.get(id);
    if (!ex) throw notFound(`No such exec instance: ${id}`);
    return ex;
  }

  override async execInspect(id: string): Promise<ExecInspect> {
    const ex = this.exec(id);
    // The line read here also reaches the exit channel's reader (launch), which records the
    // end after this answer is written.
    const st = ex.running ? ex.exitNow?.() : undefined;
    const cfg = ex.config;
    return {
      ID: ex.id,
      Running: st ? false : ex.running,
      ExitCode: st ? st.exitCode : ex.exitCode,
      ProcessConfig: { tty: cfg.Tty === true, entrypoint: cfg.Cmd[0] ?? '', arguments: cfg.Cmd.slice(1), privileged: cfg.Privileged === true, ...(cfg.User ? { user: cfg.User } : {}) },
      OpenStdin: cfg.AttachStdin === true,
      OpenStderr: cfg.AttachStderr === true,
      OpenStdout: cfg.AttachStdout === true,
      CanRemove: (st !== undefined || !ex.running) && ex.started,
      ContainerID: ex.containerId,
      DetachKeys: cfg.DetachKeys ?? '',
      Pid: ex.pid,
    };
  }

  private execProcess(c: Live, cfg: ExecCreateRequest, consoleSize: [number, number] | undefined): Process {
    const rec = c.rec;
    const spec = c.spec ?? this.specFor(rec, rec.rootfs);
    c.spec = spec;
    const base = spec.process!;
    const user = cfg.User ? resolveUser(rec.rootfs, cfg.User, rec.hostConfig.GroupAdd ?? []) : { uid: base.user.uid, gid: base.user.gid, additionalGids: base.user.additionalGids ?? [] };
    let env = mergeEnv(base.env ?? [], cfg.Env ?? []);
    if (cfg.Tty && !env.some((e) => e.startsWith('TERM='))) env = [...env, 'TERM=xterm'];
    const caps = cfg.Privileged ? capabilitySet({ Privileged: true }) : base.capabilities?.bounding ?? [];
    return {
      terminal: cfg.Tty === true,
      ...(cfg.Tty && consoleSize && consoleSize[0] && consoleSize[1] ? { consoleSize: { height: consoleSize[0], width: consoleSize[1] } } : {}),
      user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) },
      args: cfg.Cmd,
      env,
      cwd: cfg.WorkingDir || base.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: base.noNewPrivileges === true,
    };
  }

  /**
   * The exec's init program (exec.ts), for the container's current process: one compiled
   * before in this run from the same config, console and user files, or a new one.
   */
  private execProgram(c: Live, ex: ExecRecord, consoleSize: readonly number[] | undefined, consoleSocket: string | undefined, prepared: boolean): Buffer {
    const rec = c.rec;
    const base = this.execBase(c);
    const key = `${execProgramConfig(ex.config, consoleSize, consoleSocket, prepared)}\n${userFilesStamp(rec.rootfs)}`;
    const kept = base.programs.get(key);
    if (kept) {
      base.programs.delete(key); // most recently used goes last
      base.programs.set(key, kept);
      return kept;
    }
    const program = this.compileExecProgram(c, ex, base, consoleSize, consoleSocket, prepared);
    base.programs.set(key, program);
    if (base.programs.size > EXEC_PROGRAMS_KEPT) base.programs.delete(base.programs.keys().next().value!);
    return program;
  }

  private compileExecProgram(c: Live, ex: ExecRecord, base: ExecBase, consoleSize: readonly number[] | undefined, consoleSocket: string | undefined, prepared: boolean): Buffer {
    const input = this.execInput(c, ex.config, base, consoleSize, consoleSocket);
    if (!prepared) return encodeInitProgram(compileExec(input));
    const parts = compileExecAhead(input, this.aheadStages(base)!);
    if (!parts) throw systemError(`exec ${ex.id}: its launch was prepared ahead, but the exec cannot be`);
    return encodeInitProgram(parts.main);
  }

  /**
   * The first part of the program of a launch prepared ahead for the container's next exec
   * (compileExecAhead): the namespaces, the keyring and the profile's first stage. Undefined
   * when the container's execs cannot be prepared so (a privileged or tty shape, a profile
   * that does not allow what berth-init does after it, a user namespace…).
   */
  private execPrelude(c: Live, shape: LaunchShape): Buffer | undefined {
    if (shape.tty || shape.privileged) return undefined;
    const base = this.execBase(c);
    if (base.prelude === undefined) {
      const stages = this.aheadStages(base);
      // The first part depends on the container's run alone: any command stands in for the exec's.
      const parts = stages && compileExecAhead(this.execInput(c, { Cmd: ['true'] }, base, undefined, undefined), stages);
      base.prelude = parts ? encodeInitProgram(parts.prelude) : null;
    }
    return base.prelude ?? undefined;
  }

  private aheadStages(base: ExecBase): SeccompAhead | undefined {
    if (base.ahead === undefined) {
      const split = base.seccomp ? splitSeccompForAhead(base.seccomp.spec) : undefined;
      base.ahead = split
        ? { stage1: compileSeccompCached(split.stage1, 'seccomp profile'), stage2: split.stage2 && compileSeccompCached(split.stage2, 'seccomp profile') }
        : null;
    }
    return base.ahead ?? undefined;
  }

  private execInput(c: Live, cfg: ExecCreateRequest, base: ExecBase, consoleSize: readonly number[] | undefined, consoleSocket: string | undefined): ExecInput {
    const rec = c.rec;
    const process_ = this.execProcess(c, cfg, consoleSize as [number, number] | undefined);
    const seccomp = base.seccomp && !cfg.Privileged ? base.seccomp.compiled : undefined;
    return {
      pid: rec.state.pid,
      namespaces: rec.namespaces,
      process: process_,
      // berth-init leaves once the process runs; the exec's monitor reaps the process itself
      mode: 'detached',
      pidFile: EXEC_PID_FILE,
      ...(consoleSocket ? { consoleSocket } : {}),
      cgroupProcs: base.cgroupProcs,
      cgroupFsKind: (dir) => {
        if (!base.cgroupKinds.has(dir)) base.cgroupKinds.set(dir, cgroupFsKind(dir));
        return base.cgroupKinds.get(dir);
      },
      ...(seccomp ? { seccomp } : {}),
      containerId: rec.id,
      rootfs: rec.rootfs,
      host: detectHostOnce(),
    };
  }

  private precompileExec(id: string): void {
    const ex = this.execs.get(id);
    const c = ex && this.containers.get(ex.containerId);
    if (!ex || !c || ex.started || c.rec.state.status !== 'running') return;
    const size = ex.config.ConsoleSize ?? undefined;
    try {
      const prepared = this.launches.prepared(id);
      const socket = ex.config.Tty ? execConsoleSocket(ex.dir) : undefined;
      // A command the run has had compiled is looked up at the start (the user files checked
      // then): this turn, while the client sends the start, is for a first compile only.
      const config = `${execProgramConfig(ex.config, size, socket, prepared)}\n`;
      if ([...this.execBase(c).programs.keys()].some((k) => k.startsWith(config))) return;
      ex.program = { pid: c.rec.state.pid, key: programKey(size, prepared), bytes: this.execProgram(c, ex, size, socket, prepared) };
    } catch {
      // compiled again at the start, which reports the error
    }
  }

  /** The parts of an exec's program that stay the same for the container's current run. */
  private execBase(c: Live): ExecBase {
    const spec = c.spec ?? this.specFor(c.rec, c.rec.rootfs);
    c.spec = spec;
    const seccompSpec = spec.linux?.seccomp;
    const b = c.execBase;
    if (b && b.pid === c.rec.state.pid && b.seccomp?.spec === seccompSpec) return b;
    c.execBase = {
      pid: c.rec.state.pid,
      cgroupProcs: this.cgroup(c.rec).procsFiles(),
      cgroupKinds: new Map(),
      seccomp: seccompSpec ? { spec: seccompSpec, compiled: compileSeccompCached(seccompSpec, 'seccomp profile') } : undefined,
      programs: new Map(),
    };
    return c.execBase;
  }

  /**
   * The launch kept for the exec when it suits the container's current process (at once, so
   * that its program goes out in the same turn), else a new one.
   */
  private execLaunch(c: Live, ex: ExecRecord, attached: boolean, onStep: (step: 'spawned' | 'monitor ready') => void): ExecLaunch | Promise<ExecLaunch> {
    const kept = this.launches.take(ex.id);
    if (kept && !kept.launch.failed && kept.containerPid === c.rec.state.pid) return kept.launch;
    const start = (): Promise<ExecLaunch> => ExecLaunch.start({ dir: ex.dir, ...execShape(ex.config), via: this.paths.attachSocket(c.rec.id), attached, onStep });
    // the cancel removes the directory the new launch makes: that waits for it
    return kept ? kept.launch.cancel().then(start) : start();
  }

  /**
   * Starts a spare launch for the container's next exec (exec-launch.ts), shaped like this
   * one, once this one's client has had its answers: the CPU is then free.
   */
  private spareLaunchAfter(rec: ContainerRecord, ex: ExecRecord): void {
    if (!ex.persist || this.closed) return; // health checks need no head start
    const timer = setTimeout(() => {
      const c = this.containers.get(rec.id);
      if (this.closed || !c || c.rec.state.status !== 'running' || !this.launches.wantsSpare(rec.id)) return;
      const pid = c.rec.state.pid;
      const execId = newContainerId();
      const shape = execShape(ex.config);
      const dir = this.paths.execDir(rec.id, execId);
      let prelude: Buffer | undefined;
      try {
        prelude = this.execPrelude(c, shape);
      } catch (e) {
        this.log('debug', `exec launch for ${rec.id.slice(0, 12)} not prepared ahead: ${errorMessage(e)}`);
      }
      ExecLaunch.start({ dir, ...shape, via: this.paths.attachSocket(rec.id), attached: true, ...(prelude ? { prelude } : {}) }).then(
        (launch) => this.launches.addSpare(rec.id, execId, launch, pid, shape),
        (e: unknown) => this.log('debug', `spare exec launch for ${rec.id.slice(0, 12)}: ${errorMessage(e)}`),
      );
    }, EXEC_AFTERMATH_MS);
    timer.unref();
  }

  override async execStart(id: string, opts: ExecStartOptions): Promise<StreamSession> {
    const ex = this.exec(id);
    if (ex.started) throw conflict(`Error: Exec command ${id} has already run`);
    const c = this.containers.get(ex.containerId);
    if (!c) throw notFound(`No such container: ${ex.containerId}`);
    if (c.rec.state.status === 'paused') throw conflict(`Container ${c.rec.id} is paused, unpause the container before exec`);
    if (!isRunning(c.rec)) throw conflict(`Container ${c.rec.id} is not running`);
    ex.started = true;
    const tty = ex.config.Tty === true;
    const detachKeys = parseDetachKeys(ex.config.DetachKeys || DEFAULT_DETACH_KEYS);
    const consoleSize = opts.consoleSize ?? (ex.config.ConsoleSize ?? undefined);
    const trace = new StepTrace(`exec ${id.slice(0, 12)}`, (m) => this.log('debug', m));
    // Attached: the monitor starts with berthd's connection as an attach client, so the
    // process need not stop at a sync point for berthd to connect. `hold`: the monitor holds
    // the output (MSG_HOLD) for a hand-over that follows the program, in which the client's
    // own connection takes berthd's place (an exec without stdin or tty): the output goes from
    // the monitor to `docker exec` without berthd in between, and the monitor's end of it is
    // the stream's end; berth-init's errors reach the client as its stderr.
    const begin = async (attached: boolean, hold: boolean): Promise<BegunExec> => {
      const rec = c.rec;
      const got = this.execLaunch(c, ex, attached, (step) => trace.mark(step));
      // A kept launch gets its program in this turn: before the route writes the 101.
      const l = got instanceof ExecLaunch ? got : await got;
      trace.mark('launch');
      let program: Buffer;
      try {
        const pre = ex.program;
        ex.program = undefined;
        const fits = pre && pre.pid === rec.state.pid && pre.key === programKey(consoleSize, l.prepared);
        program = fits ? pre.bytes : this.execProgram(c, ex, consoleSize, l.consoleSocket, l.prepared);
        trace.mark('compile');
      } catch (e) {
        await l.cancel(); // berth-init reads a truncated program and ends; its monitor too
        throw e;
      }
      const held = hold && l.holdOutput();
      l.send(program);
      const started = l.started.then((st) => {
        ex.pid = st.containerPid;
        ex.monitorPid = st.monitorPid;
        ex.running = true;
        trace.mark('pid to ready');
        // Not awaited: the client's stream and the exit watch need not wait for the disk (the
        // record's writes stay in order, and the container's removal waits for them).
        setTimeout(() => ex.running && this.execs.get(ex.id) === ex && void this.saveExec(ex), EXEC_RECORD_DELAY_MS).unref();
        this.emit(rec, `exec_start: ${ex.config.Cmd.join(' ')}`, { execID: ex.id });
        // The monitor tells its status on its ready channel (no exit file to wait for); the
        // file is what is left when that channel closed without it.
        // After the turn that read the line: that may be exec inspect's (exitNow), whose answer
        // should not wait for the end's bookkeeping.
        if (st.exit) void st.exit.then((es) => setImmediate(() => (es ? void this.execExited(rec, ex, es.exitCode, EXEC_AFTERMATH_MS) : this.watchExecExit(rec, ex))));
        else this.watchExecExit(rec, ex);
        return st;
      });
      started.catch(() => undefined); // the caller's await reports it
      return { launch: l, held, started };
    };
    // The output's way once the program is sent: handed over (the monitor has already closed
    // berthd's end), through berthd (an AttachConnection), or nowhere (started detached).
    const connect = async (b: BegunExec, attached: boolean, handOff?: SessionStreams['handOff']): Promise<AttachConnection | undefined> => {
      const handedOff = b.held && handOff !== undefined && (await handOff((fd) => b.launch.handOff(fd)));
      if (b.held && !handedOff) b.launch.releaseOutput();
      if (handedOff) {
        b.launch.holdExit(EXEC_EXIT_HOLD_MS);
        ex.exitNow = () => b.launch.exitNow();
      }
      const started = await b.started;
      if (!started.attach) return undefined;
      if (!attached || handedOff) {
        started.attach.destroy();
        return undefined;
      }
      const conn = new AttachConnection(started.attach);
      conn.on('error', () => undefined);
      return conn;
    };
    const fail = (e: unknown): never => {
      ex.running = false;
      ex.exitCode = 126;
      ex.done.resolve();
      this.execEnded(ex);
      void rm(ex.dir, { recursive: true, force: true });
      if (isBerthError(e)) throw e;
      throw systemError(`exec ${id}: ${errorMessage(e)}`, e);
    };
    if (opts.detach) {
      return {
        tty,
        run: async () => {
          await begin(false, false)
            .then((b) => connect(b, false))
            .catch(fail);
          trace.done();
        },
      };
    }
    // Begun at once when the output may be handed over: the program goes to berth-init while
    // the client is answered 101 and its connection handed over.
    const direct = !tty && ex.config.AttachStdin !== true && ex.config.AttachStdout !== false && ex.config.AttachStderr !== false;
    const begun = begin(true, direct);
    begun.catch(() => undefined); // run() reports it
    return {
      tty,
      run: async (streams: SessionStreams) => {
        let conn: AttachConnection | undefined;
        try {
          conn = await connect(await begun, true, streams.handOff);
        } catch (e) {
          fail(e); // written into the stream once, as dockerd does (nothing after a hand-over)
        }
        if (!conn) {
          trace.done(); // handed over (or started detached): the stream is the monitor's
          return;
        }
        const end = await pump(conn, streams, {
          tty,
          stdin: ex.config.AttachStdin === true,
          stdout: ex.config.AttachStdout !== false,
          stderr: ex.config.AttachStderr !== false,
          stdinOnce: true,
          detachKeys,
        });
        trace.mark(`output (${end})`);
        if (end === 'exited') await Promise.race([ex.done.promise, new Promise((r) => setTimeout(r, 5000))]);
        trace.mark('exit status');
        trace.done();
      },
    };
  }

  /**
   * An exec has ended: it stays inspectable for execRetentionMs, then is forgotten, in
   * memory and in its container's journal, as dockerd forgets one (its garbage collection
   * runs every 5 minutes and takes an exec at its second pass). Without it, a container that
   * is exec'd into all day would hold every exec it ever ran until its removal.
   */
  private execEnded(ex: ExecRecord): void {
    ex.endedAt = Date.now();
    this.scheduleExecSweep(this.execRetentionMs);
  }

  private get execRetentionMs(): number {
    return this.opts.execRetentionMs ?? DEFAULT_EXEC_RETENTION_MS;
  }

  private scheduleExecSweep(delayMs: number): void {
    if (this.execSweep || this.closed) return;
    this.execSweep = setTimeout(() => {
      this.execSweep = undefined;
      void this.sweepEndedExecs();
    }, delayMs);
    this.execSweep.unref();
  }

  /** Forgets the execs ended execRetentionMs ago or more; comes back for the next one due. */
  private async sweepEndedExecs(): Promise<void> {
    const now = Date.now();
    const due = new Map<string, ExecRecord[]>();
    let next: number | undefined;
    for (const ex of this.execs.values()) {
      if (ex.endedAt === undefined || ex.running) continue;
      const at = ex.endedAt + this.execRetentionMs;
      if (at > now) {
        next = Math.min(next ?? at, at);
        continue;
      }
      this.execs.delete(ex.id);
      due.set(ex.containerId, [...(due.get(ex.containerId) ?? []), ex]);
    }
    for (const [containerId, list] of due) {
      await Promise.all(list.map((ex) => ex.saved)); // a write still queued would add it back
      const ids = new Set(list.filter((ex) => ex.persist).map((ex) => ex.id));
      if (ids.size === 0 || !this.containers.has(containerId)) continue; // a removed container took its journal along
      try {
        this.execStore.drop(containerId, ids);
      } catch (e) {
        this.log('warn', `forget ended execs of ${containerId}: ${errorMessage(e)}`);
      }
    }
    if (next !== undefined) this.scheduleExecSweep(Math.max(next - Date.now(), 0));
  }

  /** Queues a write of the exec's record as it is now, after the writes queued before it. */
  private saveExec(ex: ExecRecord, afterMs = 0): Promise<void> {
    if (!ex.persist) return ex.saved;
    const s: StoredExec = { id: ex.id, containerId: ex.containerId, config: ex.config, running: ex.running, exitCode: ex.exitCode, pid: ex.pid, monitorPid: ex.monitorPid, dir: ex.dir };
    const before = afterMs > 0 ? ex.saved.then(() => sleep(afterMs)) : ex.saved;
    ex.saved = before.then(() => this.execStore.save(s)).catch((e: unknown) => this.log('warn', `save exec ${ex.id}: ${errorMessage(e)}`));
    return ex.saved;
  }

  /**
   * An exec's end seen by its exit file. Its client asks for the exit code right after the
   * stream's end: that is known at once, and the record, the directory and the next spare
   * launch come a moment later, so as not to hold that answer up. The exit file stays until
   * the record has the code, which a berthd killed meanwhile reads at its restart.
   */
  private watchExecExit(rec: ContainerRecord, ex: ExecRecord): void {
    void exitFileIn(ex.dir).then((st) => this.execExited(rec, ex, st.exitCode, EXEC_AFTERMATH_MS));
  }

  private async execExited(rec: ContainerRecord, ex: ExecRecord, exitCode: number, afterMs = 0): Promise<void> {
    if (!ex.running) return;
    ex.exitCode = exitCode;
    ex.running = false;
    ex.exitNow = undefined;
    ex.done.resolve();
    this.execEnded(ex);
    this.emit(rec, 'exec_die', { execID: ex.id, exitCode: String(exitCode) });
    this.spareLaunchAfter(rec, ex);
    await this.saveExec(ex, afterMs);
    await rm(ex.dir, { recursive: true, force: true }).catch(() => undefined);
  }

  override async execResize(id: string, height: number, width: number): Promise<void> {
    const ex = this.exec(id);
    if (!ex.running) return;
    await this.resizeVia(join(ex.dir, 'attach.sock'), height, width);
  }

  /** Runs a command in the container and collects its output (health checks). */
  private async execCollect(c: Live, cmd: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
    const { Id } = this.createExec(c.rec.id, { Cmd: cmd, AttachStdout: true, AttachStderr: true }, false);
    const session = await this.execStart(Id, { detach: false, tty: false });
    const chunks: Buffer[] = [];
    const { Writable } = await import('node:stream');
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        if (chunks.reduce((n, b) => n + b.length, 0) < 4096) chunks.push(chunk);
        cb();
      },
    });
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      await session.run({ stdout: sink, stderr: sink, signal: ac.signal });
    } finally {
      clearTimeout(timer);
    }
    const ex = this.execs.get(Id);
    this.execs.delete(Id);
    if (ac.signal.aborted) {
      if (ex?.pid) {
        try {
          process.kill(ex.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      return { code: -1, output: `Health check exceeded timeout (${timeoutMs / 1000}s)` };
    }
    return { code: ex?.exitCode ?? -1, output: Buffer.concat(chunks).toString('utf8') };
  }

  // --- health checks ----------------------------------------------------------------------

  private startHealthcheck(c: Live): void {
    const hc = c.rec.config.Healthcheck;
    if (!hc?.Test?.length || hc.Test[0] === 'NONE' || !c.rec.state.health) return;
    const ns = (v: number | undefined, d: number): number => (v && v > 0 ? v / 1e6 : d);
    const interval = ns(hc.Interval, 30_000);
    const timeout = ns(hc.Timeout, 30_000);
    const startPeriod = ns(hc.StartPeriod, 0);
    const startInterval = ns(hc.StartInterval, 5_000);
    const retries = hc.Retries && hc.Retries > 0 ? hc.Retries : 3;
    const cmd = hc.Test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', hc.Test.slice(1).join(' ')] : hc.Test[0] === 'CMD' ? hc.Test.slice(1) : hc.Test;
    const startedAt = Date.parse(c.rec.state.startedAt);
    const tick = async (): Promise<void> => {
      c.healthTimer = undefined;
      if (c.rec.state.status !== 'running' || !c.rec.state.health) return;
      const start = nowIso();
      let r: { code: number; output: string };
      try {
        r = await this.execCollect(c, cmd, timeout);
      } catch (e) {
        r = { code: -1, output: errorMessage(e) };
      }
      const h = c.rec.state.health;
      if (!h || c.rec.state.status !== 'running') return;
      h.Log = [...h.Log, { Start: start, End: nowIso(), ExitCode: r.code, Output: r.output }].slice(-5);
      const inStart = Date.now() - startedAt < startPeriod;
      const before = h.Status;
      if (r.code === 0) {
        h.Status = 'healthy';
        h.FailingStreak = 0;
      } else if (!inStart || before === 'healthy') {
        h.FailingStreak++;
        if (h.FailingStreak >= retries) h.Status = 'unhealthy';
      }
      await this.save(c).catch(() => undefined);
      if (h.Status !== before) this.emit(c.rec, `health_status: ${h.Status}`);
      if (h.Status === 'unhealthy' && before !== 'unhealthy' && restartOnUnhealthy(c.rec)) {
        void this.restartUnhealthy(c).catch((e: unknown) => this.log('warn', `restart of unhealthy ${c.rec.id} failed: ${errorMessage(e)}`));
        return;
      }
      if (!this.closed && c.rec.state.status === 'running') {
        c.healthTimer = setTimeout(() => void tick(), h.Status === 'starting' ? Math.min(startInterval, interval) : interval);
        c.healthTimer.unref();
      }
    };
    c.healthTimer = setTimeout(() => void tick(), Math.min(startPeriod > 0 ? startInterval : interval, interval));
    c.healthTimer.unref();
  }

  // --- the container's filesystem: cp, export, diff, commit -------------------------------

  /**
   * Runs `fn` with the container's rootfs mounted. A running container's rootfs is mounted
   * already; a stopped one's is mounted for the call (under the container's lock, so a start
   * waits) and unmounted after `fn`'s result says it is done (`until`, for streams).
   */
  private async withRootfs<T>(c: Live, fn: (root: string) => Promise<{ value: T; until?: Promise<unknown> }>): Promise<T> {
    if (isRunning(c.rec) && c.rec.rootfs) return (await fn(c.rec.rootfs)).value;
    const ready = deferred<{ value: T } | { error: unknown }>();
    void this.locked(c, async () => {
      let until: Promise<unknown> | undefined;
      try {
        const root = await this.images.mountRootfs(c.rec.id);
        const r = await fn(root);
        until = r.until;
        ready.resolve({ value: r.value });
      } catch (e) {
        ready.resolve({ error: e });
      }
      await until?.catch(() => undefined);
      if (!isRunning(c.rec)) await this.images.unmountRootfs(c.rec.id).catch(() => undefined);
    });
    const r = await ready.promise;
    if ('error' in r) throw r.error;
    return r.value;
  }

  /** The container's filesystem for `docker cp`: the rootfs and its binds and volumes. */
  private archiveScope(c: Live, root: string): PathScope {
    return new PathScope(root, archiveMounts(c.rec.hostConfig, c.rec));
  }

  override async containerArchiveStat(ref: string, path: string): Promise<ContainerPathStat> {
    const c = this.get(ref);
    return this.withRootfs(c, async (root) => ({ value: statContainerPath(this.archiveScope(c, root), path, ref).stat }));
  }

  override async containerArchiveGet(ref: string, path: string): Promise<{ stat: ContainerPathStat; archive: Readable }> {
    const c = this.get(ref);
    return this.withRootfs(c, async (root) => {
      const scope = this.archiveScope(c, root);
      const resolved = statContainerPath(scope, path, ref);
      const archive = archiveOf(scope, resolved);
      const until = new Promise((r) => archive.once('close', r));
      return { value: { stat: resolved.stat, archive }, until };
    });
  }

  override async containerArchivePut(ref: string, path: string, archive: Readable, opts: ArchivePutOptions): Promise<void> {
    const c = this.get(ref);
    const readonlyRootfs = c.rec.hostConfig.ReadonlyRootfs === true;
    await this.withRootfs(c, async (root) => {
      const scope = this.archiveScope(c, root);
      const dest = extractionPoint(scope, path, ref, readonlyRootfs);
      const owner = opts.copyUIDGID ? resolveUser(root, c.rec.config.User, []) : undefined;
      // A running container is frozen while the tar is written, so it cannot swap a checked
      // directory for a symlink under the extraction (moby's CVE-2018-15664).
      const freeze = c.rec.state.status === 'running';
      if (freeze) await this.cgroup(c.rec).freeze();
      try {
        await extractInScope(scope, dest, archive, { noOverwriteDirNonDir: opts.noOverwriteDirNonDir, readonlyRootfs, ...(owner ? { owner: { uid: owner.uid, gid: owner.gid } } : {}) });
      } finally {
        if (freeze && c.rec.state.status === 'running') await this.cgroup(c.rec).thaw().catch(() => undefined);
      }
      return { value: undefined };
    });
    this.emit(c.rec, 'extract-to-dir');
  }

  override async containerExport(ref: string): Promise<Readable> {
    const c = this.get(ref);
    const out = await this.images.exportRootfs(c.rec.id);
    this.emit(c.rec, 'export');
    return out;
  }

  override async containerChanges(ref: string): Promise<FilesystemChange[]> {
    const c = this.get(ref);
    const { driver, dirs } = await this.images.containerLayers(c.rec.id);
    if (driver !== 'overlay') throw notImplemented('docker diff needs the overlay snapshotter (vfs keeps no separate container layer)');
    const changes = await layerChanges(dirs[0]!, dirs.slice(1), MOUNT_POINTS);
    return changes;
  }

  override async containerCommit(opts: ContainerCommitOptions): Promise<ContainerCommitResponse> {
    const c = this.get(opts.container);
    let name: string | undefined;
    if (opts.repo) {
      const ref = parseNormalizedReference(opts.tag ? `${opts.repo}:${opts.tag}` : opts.repo);
      if (ref.digest !== undefined) throw invalidParameter('cannot commit to a digest reference');
      name = formatReference(ref);
    } else if (opts.tag) {
      throw invalidParameter('tag is specified without a repository');
    }
    const rc = c.rec.config;
    const pick = (cfg: ContainerConfig): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const k of ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell'] as const) {
        const v = (cfg as Record<string, unknown>)[k];
        if (v !== undefined && v !== null && v !== '' && !(typeof v === 'object' && Object.keys(v as object).length === 0)) out[k] = v;
      }
      return out;
    };
    const config = { ...pick(rc), ...(opts.config ? pick(opts.config) : {}) } as OciImageConfig;
    const freeze = opts.pause && c.rec.state.status === 'running';
    if (freeze) await this.cgroup(c.rec).freeze();
    let id: string;
    try {
      ({ id } = await this.images.commitContainer({
        containerId: c.rec.id,
        imageId: c.rec.image,
        ...(name !== undefined ? { name } : {}),
        config,
        changes: opts.changes,
        comment: opts.comment,
        author: opts.author,
        createdBy: [c.rec.path, ...c.rec.args].join(' '),
      }));
    } finally {
      if (freeze && c.rec.state.status === 'running') await this.cgroup(c.rec).thaw().catch(() => undefined);
    }
    this.emit(c.rec, 'commit', { comment: opts.comment });
    return { Id: id };
  }

  /**
   * Beyond Docker: a container labelled `berth.restart-on-unhealthy=true` is restarted (stop
   * with its stop signal and timeout, then start; RestartCount counts it) when its health
   * check turns it unhealthy. Events: health_status: unhealthy, kill, die, stop, start, restart.
   */
  private async restartUnhealthy(c: Live): Promise<void> {
    if (c.removing || c.rec.state.status !== 'running') return;
    this.log('info', `container ${c.rec.id} is unhealthy: restarting it (label ${RESTART_ON_UNHEALTHY_LABEL})`);
    await this.stopContainer(c, {});
    await this.locked(c, async () => {
      if (isRunning(c.rec) || c.removing || c.rec.state.status === 'removing') return;
      c.rec.manuallyStopped = false;
      c.rec.restartCount++;
      await this.startLocked(c);
      this.emit(c.rec, 'restart');
    });
  }

  // --- top and stats ----------------------------------------------------------------------

  override async containerTop(ref: string, psArgs: string): Promise<ContainerTopResponse> {
    const c = this.get(ref);
    if (!isRunning(c.rec)) throw conflict(`Container ${c.rec.id} is not running`);
    const pids = new Set(await this.cgroup(c.rec).pids());
    const args = psArgs.trim() ? psArgs.trim().split(/\s+/) : ['-ef'];
    let stdout: string;
    try {
      ({ stdout } = await run('ps', args, { maxBuffer: 16 * 1024 * 1024 }));
    } catch (e) {
      throw invalidParameter(`Error running ps: ${((e as { stderr?: string }).stderr ?? errorMessage(e)).trim()}`);
    }
    const lines = stdout.split('\n').filter((l) => l.length > 0);
    const titles = (lines[0] ?? '').trim().split(/\s+/);
    const pidCol = titles.indexOf('PID');
    if (pidCol < 0) throw invalidParameter(`Couldn't find PID field in ps output`);
    const processes: string[][] = [];
    for (const line of lines.slice(1)) {
      const f = line.trim().split(/\s+/);
      const row = [...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')];
      if (pids.has(Number(row[pidCol]))) processes.push(row);
    }
    return { Titles: titles, Processes: processes };
  }

  override async containerStats(ref: string, opts: ContainerStatsOptions): Promise<AsyncIterable<Record<string, unknown>>> {
    const c = this.get(ref);
    const sample = async (): Promise<Record<string, unknown>> => {
      const now = new Date();
      const stats = isRunning(c.rec) ? await this.cgroup(c.rec).stats().catch(() => undefined) : undefined;
      const s = dockerStats({ id: c.rec.id, name: c.rec.name, now, stats, pre: c.statsPre, memTotal: this.host.memTotal });
      c.statsPre = stats ? { read: now, cpu: s.cpu_stats } : undefined;
      return s;
    };
    const engine = this;
    void engine;
    async function* gen(): AsyncGenerator<Record<string, unknown>> {
      if (!opts.stream) {
        if (!opts.oneShot) {
          // Two samples so that precpu_stats is filled and the CLI can compute CPU %.
          await sample();
          await new Promise((r) => setTimeout(r, 200));
        } else c.statsPre = undefined;
        yield await sample();
        return;
      }
      for (;;) {
        yield await sample();
        if (opts.signal.aborted) return;
        try {
          await new Promise<void>((resolve, reject) => {
            const t = setTimeout(resolve, 1000);
            opts.signal.addEventListener('abort', () => {
              clearTimeout(t);
              reject(new Error('aborted'));
            });
          });
        } catch {
          return;
        }
      }
    }
    return gen();
  }
}

function goArch(): string {
  return { x64: 'amd64', arm64: 'arm64', arm: 'arm', s390x: 's390x', ppc64: 'ppc64le', riscv64: 'riscv64', ia32: '386' }[process.arch as string] ?? process.arch;
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

export { loadRecord };
