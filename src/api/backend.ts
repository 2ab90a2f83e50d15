// EngineBackend: what the HTTP handlers call. The engine implements it (a later issue);
// handlers only translate HTTP ↔ these calls. Every method throws BerthErrors of a kind
// (NotFound for an unknown container, Conflict for a name in use, InvalidParameter for a bad
// value, NotImplemented for what berthd cannot do yet); the API maps kinds to statuses.
//
// Names are as the client sent them (a name, a full or short id); the backend resolves them.
// Long operations take an AbortSignal that fires when the client goes away.

import type { Readable, Writable } from 'node:stream';
import type { Filters } from './body.js';
import type { JSONMessage } from './json-stream.js';
import type {
  ContainerCommitResponse,
  ContainerConfig,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerPathStat,
  ContainerPruneReport,
  ContainerSummary,
  ContainerTopResponse,
  ContainerUpdateConfig,
  ContainerUpdateResponse,
  ContainerWaitResponse,
  FilesystemChange,
  HostConfig,
  LogMessage,
  NetworkingConfig,
  WaitCondition,
} from './types/container.js';
import type { ExecCreateRequest, ExecInspect } from './types/exec.js';
import type { ImageDeleteItem, ImageHistoryItem, ImageInspect, ImagePruneReport, ImageSearchResult, ImageSummary } from './types/image.js';
import type {
  NetworkConnectRequest,
  NetworkCreateRequest,
  NetworkCreateResponse,
  NetworkDisconnectRequest,
  NetworkInspect,
  NetworkPruneReport,
} from './types/network.js';
import type { AuthConfig, AuthResponse, DiskUsage, EventMessage, SystemInfo, SystemVersion } from './types/system.js';
import type { Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneReport } from './types/volume.js';

/** Progress of pull, push, load and import, written to the client as JSON messages. */
export type ProgressSink = (message: JSONMessage) => void;

// --- system -------------------------------------------------------------------------------

export interface EventsOptions {
  /** Unix seconds (fractional) or undefined: past events from then on are replayed first. */
  since?: number;
  /** Stop at this time; when it is in the past only past events are sent. */
  until?: number;
  filters: Filters;
  signal: AbortSignal;
}

export interface DiskUsageOptions {
  /** Empty: all of container, image, volume, build-cache. */
  types: ('container' | 'image' | 'volume' | 'build-cache')[];
}

export interface SystemBackend {
  systemVersion(): Promise<SystemVersion>;
  systemInfo(): Promise<SystemInfo>;
  systemDiskUsage(opts: DiskUsageOptions): Promise<Partial<DiskUsage>>;
  /**
   * Past events matching the options, then live ones until `until` or the signal; the
   * iterator ends when the stream should end. Filters are validated here (400 for a bad one).
   */
  events(opts: EventsOptions): AsyncIterable<EventMessage>;
  authenticate(config: AuthConfig): Promise<AuthResponse>;
}

// --- containers ---------------------------------------------------------------------------

export interface ContainerListOptions {
  all: boolean;
  /** 0: no limit. */
  limit: number;
  size: boolean;
  filters: Filters;
}

export interface ContainerCreateOptions {
  name: string;
  /** `os[/arch[/variant]]` or undefined. */
  platform?: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  networkingConfig: NetworkingConfig;
  /** The API version of the request, for defaults that changed between versions. */
  apiVersion: string;
}

export interface ContainerStopOptions {
  signal?: string;
  /** Seconds; -1 waits forever; undefined uses the container's StopTimeout. */
  timeout?: number;
}

export interface ContainerRemoveOptions {
  force: boolean;
  volumes: boolean;
  link: boolean;
}

export interface ContainerLogsOptions {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  /** Unix seconds; 0 for none. */
  since: number;
  until: number;
  timestamps: boolean;
  /** "all" or a number of lines. */
  tail: string;
  details: boolean;
  signal: AbortSignal;
}

export interface ContainerLogs {
  tty: boolean;
  /** One message at a time, or batches of what was available at once (cheaper per line). */
  messages: AsyncIterable<LogMessage | readonly LogMessage[]>;
}

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Replay the log first. */
  logs: boolean;
  /** Stream live output. */
  stream: boolean;
  detachKeys?: string;
}

/** The streams of a hijacked connection, handed to the engine once the 101 is sent. */
export interface SessionStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** Fires when the client goes away. */
  signal: AbortSignal;
  /** The client's connection given to another process (HijackedConnection.handOff). */
  handOff?: (send: (fd: number) => boolean) => Promise<boolean>;
}

/**
 * A checked, ready-to-run attach or exec: `tty` decides the framing; `run` moves bytes
 * until the process ends, the client detaches or goes away. Errors found before the
 * connection is hijacked (no such container, not running) are thrown by the call that
 * returns the session, so the client gets a proper status.
 */
export interface StreamSession {
  tty: boolean;
  run(streams: SessionStreams): Promise<void>;
}

export interface ContainerStatsOptions {
  stream: boolean;
  oneShot: boolean;
  signal: AbortSignal;
}

export interface ArchivePutOptions {
  noOverwriteDirNonDir: boolean;
  copyUIDGID: boolean;
}

export interface ContainerCommitOptions {
  container: string;
  repo?: string;
  tag?: string;
  comment: string;
  author: string;
  pause: boolean;
  changes: string[];
  config?: ContainerConfig;
}

export interface ContainerBackend {
  containerList(opts: ContainerListOptions): Promise<ContainerSummary[]>;
  containerCreate(opts: ContainerCreateOptions): Promise<ContainerCreateResponse>;
  containerInspect(name: string, opts: { size: boolean }): Promise<ContainerInspect>;
  containerRemove(name: string, opts: ContainerRemoveOptions): Promise<void>;
  containerStart(name: string, opts: { checkpoint?: string; checkpointDir?: string }): Promise<void>;
  containerStop(name: string, opts: ContainerStopOptions): Promise<void>;
  containerRestart(name: string, opts: ContainerStopOptions): Promise<void>;
  containerKill(name: string, signal: string | undefined): Promise<void>;
  containerPause(name: string): Promise<void>;
  containerUnpause(name: string): Promise<void>;
  /**
   * Checks the container now (throws NotFound before the response starts) and resolves
   * `result` when the condition is met.
   */
  containerWait(name: string, condition: WaitCondition, signal: AbortSignal): Promise<{ result: Promise<ContainerWaitResponse> }>;
  containerLogs(name: string, opts: ContainerLogsOptions): Promise<ContainerLogs>;
  containerAttach(name: string, opts: AttachOptions): Promise<StreamSession>;
  containerResize(name: string, height: number, width: number): Promise<void>;
  containerTop(name: string, psArgs: string): Promise<ContainerTopResponse>;
  /** One stats object when !stream, else one about every second until the signal. */
  containerStats(name: string, opts: ContainerStatsOptions): Promise<AsyncIterable<Record<string, unknown>>>;
  containerChanges(name: string): Promise<FilesystemChange[]>;
  containerExport(name: string): Promise<Readable>;
  containerArchiveStat(name: string, path: string): Promise<ContainerPathStat>;
  containerArchiveGet(name: string, path: string): Promise<{ stat: ContainerPathStat; archive: Readable }>;
  containerArchivePut(name: string, path: string, archive: Readable, opts: ArchivePutOptions): Promise<void>;
  containerRename(name: string, newName: string): Promise<void>;
  containerUpdate(name: string, update: ContainerUpdateConfig): Promise<ContainerUpdateResponse>;
  containerPrune(filters: Filters): Promise<ContainerPruneReport>;
  containerCommit(opts: ContainerCommitOptions): Promise<ContainerCommitResponse>;
}

// --- exec ---------------------------------------------------------------------------------

export interface ExecStartOptions {
  detach: boolean;
  tty: boolean;
  consoleSize?: [number, number];
}

export interface ExecBackend {
  execCreate(container: string, config: ExecCreateRequest): Promise<{ Id: string }>;
  execInspect(id: string): Promise<ExecInspect>;
  /** NotFound (`No such exec instance: …`) or Conflict before the hijack; a session after. */
  execStart(id: string, opts: ExecStartOptions): Promise<StreamSession>;
  execResize(id: string, height: number, width: number): Promise<void>;
}

// --- images -------------------------------------------------------------------------------

export interface ImageListOptions {
  all: boolean;
  filters: Filters;
  sharedSize: boolean;
  digests: boolean;
  manifests: boolean;
}

export interface ImagePullOptions {
  /** As the client sent it: `busybox`, `registry:5000/app`; with `tag` a tag or digest. */
  image: string;
  tag: string;
  platform?: string;
  auth?: AuthConfig;
  signal: AbortSignal;
}

export interface ImageImportOptions {
  /** `-` when the archive is the request body, else a URL. */
  source: string;
  body?: Readable;
  repo?: string;
  tag?: string;
  message: string;
  changes: string[];
  platform?: string;
  signal: AbortSignal;
}

export interface ImagePushOptions {
  tag?: string;
  platform?: string;
  auth?: AuthConfig;
  signal: AbortSignal;
}

export interface ImageBackend {
  imageList(opts: ImageListOptions): Promise<ImageSummary[]>;
  imageInspect(name: string): Promise<ImageInspect>;
  imageHistory(name: string): Promise<ImageHistoryItem[]>;
  imagePull(opts: ImagePullOptions, progress: ProgressSink): Promise<void>;
  imageImport(opts: ImageImportOptions, progress: ProgressSink): Promise<void>;
  imagePush(name: string, opts: ImagePushOptions, progress: ProgressSink): Promise<void>;
  imageTag(name: string, repo: string, tag: string): Promise<void>;
  imageRemove(name: string, opts: { force: boolean; noPrune: boolean }): Promise<ImageDeleteItem[]>;
  imagePrune(filters: Filters): Promise<ImagePruneReport>;
  /** A docker-archive tar of the images. */
  imageSave(names: string[], opts: { platform?: string }): Promise<Readable>;
  imageLoad(archive: Readable, opts: { quiet: boolean; platform?: string; signal: AbortSignal }, progress: ProgressSink): Promise<void>;
  imageSearch(term: string, opts: { limit: number; filters: Filters; auth?: AuthConfig }): Promise<ImageSearchResult[]>;
}

// --- networks -----------------------------------------------------------------------------

export interface NetworkBackend {
  networkList(filters: Filters): Promise<NetworkInspect[]>;
  networkInspect(id: string, opts: { verbose: boolean; scope?: string }): Promise<NetworkInspect>;
  networkCreate(req: NetworkCreateRequest): Promise<NetworkCreateResponse>;
  networkRemove(id: string): Promise<void>;
  networkConnect(id: string, req: NetworkConnectRequest): Promise<void>;
  networkDisconnect(id: string, req: NetworkDisconnectRequest): Promise<void>;
  networkPrune(filters: Filters): Promise<NetworkPruneReport>;
}

// --- volumes ------------------------------------------------------------------------------

export interface VolumeBackend {
  volumeList(filters: Filters): Promise<VolumeListResponse>;
  volumeInspect(name: string): Promise<Volume>;
  volumeCreate(req: VolumeCreateRequest): Promise<Volume>;
  volumeRemove(name: string, opts: { force: boolean }): Promise<void>;
  volumePrune(filters: Filters): Promise<VolumePruneReport>;
}

export interface EngineBackend extends SystemBackend, ContainerBackend, ExecBackend, ImageBackend, NetworkBackend, VolumeBackend {}
