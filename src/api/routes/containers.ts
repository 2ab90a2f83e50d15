// Container routes: thin translations between HTTP and the ContainerBackend. Each handler
// parses the query and body (400s name the parameter or field), calls the backend once and
// writes dockerd's status and shape.

import { invalidParameter } from '../../errors.js';
import type { ContainerBackend } from '../backend.js';
import { boolValue, boolValueOrDefault, intValue, parseFilters, uint32Value, validateFilters } from '../body.js';
import { BatchedWriter, startStream, writeChunk, writeJson, writeNoContent, type RequestContext } from '../context.js';
import { MEDIA_TYPE_MULTIPLEXED_STREAM, MEDIA_TYPE_RAW_STREAM } from '../hijack.js';
import { route, type Route } from '../router.js';
import { containerConfigSchema, containerCreateSchema, containerUpdateSchema } from '../schemas.js';
import { encodeFrame, encodeFrames, StreamId } from '../stdcopy.js';
import type {
  ContainerConfig,
  ContainerCreateBody,
  ContainerPathStat,
  ContainerUpdateConfig,
  HostConfig,
  LogMessage,
  NetworkingConfig,
  WaitCondition,
} from '../types/container.js';
import { validateBody } from '../validate.js';
import { versionAtLeast, versionLessThan } from '../version.js';
import { jsonObject, optionalParam, queryList, timestampParam, withContext } from './common.js';

/** The filters `docker ps` may send (dockerd's accepted set). */
export const CONTAINER_LIST_FILTERS = [
  'ancestor',
  'before',
  'expose',
  'exited',
  'health',
  'id',
  'isolation',
  'is-task',
  'label',
  'name',
  'network',
  'publish',
  'since',
  'status',
  'volume',
] as const;

async function list(b: ContainerBackend, ctx: RequestContext): Promise<void> {
  const filters = parseFilters(ctx.query.get('filters'));
  validateFilters(filters, CONTAINER_LIST_FILTERS);
  const limit = intValue(ctx.query, 'limit', 0);
  const containers = await b.containerList({
    all: boolValue(ctx.query, 'all'),
    size: boolValue(ctx.query, 'size'),
    limit: limit > 0 ? limit : 0,
    filters,
  });
  writeJson(ctx.res, 200, containers);
}

/** Split the create body into Config, HostConfig and NetworkingConfig. */
export function splitCreateBody(body: ContainerCreateBody): { config: ContainerConfig; hostConfig: HostConfig; networkingConfig: NetworkingConfig } {
  const { HostConfig: hostConfig, NetworkingConfig: networkingConfig, ...config } = body;
  for (const k of ['Cmd', 'Entrypoint', 'Shell'] as const) {
    const v = config[k];
    if (typeof v === 'string') config[k] = [v];
  }
  return { config, hostConfig: hostConfig ?? {}, networkingConfig: networkingConfig ?? {} };
}

async function create(b: ContainerBackend, ctx: RequestContext): Promise<void> {
  const name = ctx.query.get('name') ?? '';
  const raw = await ctx.json();
  if (raw === undefined || raw === null) throw invalidParameter('config cannot be empty in order to create a container');
  const body = validateBody<ContainerCreateBody>(raw, containerCreateSchema);
  const { config, hostConfig, networkingConfig } = splitCreateBody(body);
  if (versionAtLeast(ctx.apiVersion, '1.42')) {
    for (const m of hostConfig.Mounts ?? []) {
      if (m.VolumeOptions && m.Type !== 'volume') throw invalidParameter(`VolumeOptions must not be specified on mount type "${m.Type ?? ''}"`);
      if (m.BindOptions && m.Type !== 'bind') throw invalidParameter(`BindOptions must not be specified on mount type "${m.Type ?? ''}"`);
      if (m.TmpfsOptions && m.Type !== 'tmpfs') throw invalidParameter(`TmpfsOptions must not be specified on mount type "${m.Type ?? ''}"`);
    }
  }
  if (hostConfig.PidsLimit !== undefined && hostConfig.PidsLimit !== null && hostConfig.PidsLimit <= 0) hostConfig.PidsLimit = null;
  const platform = optionalParam(ctx.query, 'platform');
  const result = await b.containerCreate({
    name,
    config,
    hostConfig,
    networkingConfig,
    apiVersion: ctx.apiVersion,
    ...(platform !== undefined ? { platform } : {}),
  });
  writeJson(ctx.res, 201, { Id: result.Id, Warnings: result.Warnings ?? [] });
}

function stopOptions(ctx: RequestContext): { signal?: string; timeout?: number } {
  const opts: { signal?: string; timeout?: number } = {};
  if (versionAtLeast(ctx.apiVersion, '1.42')) {
    const signal = optionalParam(ctx.query, 'signal');
    if (signal !== undefined) opts.signal = signal;
  }
  const t = intValue(ctx.query, 't');
  if (t !== undefined) opts.timeout = t;
  return opts;
}

const WAIT_CONDITIONS: readonly WaitCondition[] = ['not-running', 'next-exit', 'removed'];

async function wait(b: ContainerBackend, ctx: RequestContext): Promise<void> {
  let condition: WaitCondition = 'not-running';
  const legacy = versionLessThan(ctx.apiVersion, '1.30');
  if (!legacy) {
    const c = ctx.query.get('condition');
    if (c !== null && c !== '') {
      if (!(WAIT_CONDITIONS as readonly string[]).includes(c)) throw invalidParameter(`invalid condition: ${JSON.stringify(c)}`);
      condition = c as WaitCondition;
    }
  }
  const { result } = await b.containerWait(ctx.params.name as string, condition, ctx.signal);
  // Since API 1.30 the headers go out at once; the body follows when the condition is met.
  ctx.res.setHeader('Content-Type', 'application/json');
  if (!legacy) {
    ctx.res.writeHead(200);
    ctx.res.flushHeaders();
  }
  const status = await result;
  ctx.res.end(`${JSON.stringify({ StatusCode: status.StatusCode, Error: status.Error ?? null })}\n`);
}

/** RFC 3339 timestamps, attributes and the line, as `docker logs` shows them. */
function logLine(m: LogMessage, timestamps: boolean, details: boolean): Buffer | string {
  let prefix = '';
  if (timestamps && m.timestamp !== undefined) prefix += `${m.timestamp} `;
  if (details) {
    const attrs = Object.entries(m.attrs ?? {})
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join(',');
    prefix += `${attrs} `;
  }
  if (prefix === '') return m.line;
  return typeof m.line === 'string' ? prefix + m.line : Buffer.concat([Buffer.from(prefix), m.line]);
}

async function logs(b: ContainerBackend, ctx: RequestContext): Promise<void> {
  const q = ctx.query;
  const stdout = boolValue(q, 'stdout');
  const stderr = boolValue(q, 'stderr');
  if (!stdout && !stderr) throw invalidParameter(`must specify at least one of 'stdout' or 'stderr'`);
  const since = timestampParam(q, 'since') ?? 0;
  const until = q.get('until') === '0' ? 0 : (timestampParam(q, 'until') ?? 0);
  const timestamps = boolValue(q, 'timestamps');
  const details = boolValue(q, 'details');
  const { tty, messages } = await b.containerLogs(ctx.params.name as string, {
    stdout,
    stderr,
    follow: boolValue(q, 'follow'),
    since,
    until,
    timestamps,
    tail: q.get('tail') ?? 'all',
    details,
    signal: ctx.signal,
  });
  const multiplexed = !tty;
  startStream(ctx.res, multiplexed && versionAtLeast(ctx.apiVersion, '1.42') ? MEDIA_TYPE_MULTIPLEXED_STREAM : MEDIA_TYPE_RAW_STREAM);
  // Lines go out in writes of up to 64 KiB: one write (and one HTTP chunk) per line made
  // 100k lines cost seconds. A follower still gets each line at once: what is pending is
  // written as soon as the source has to wait.
  const out = new BatchedWriter(ctx.res, ctx.signal);
  try {
    for await (const item of messages) {
      if (ctx.signal.aborted) break;
      const batch = Array.isArray(item) ? (item as readonly LogMessage[]) : [item as LogMessage];
      for (let i = 0; i < batch.length; i += 1024) {
        const frames = batch.slice(i, i + 1024).map((m) => ({ stream: multiplexed ? (m.stream === 'stderr' ? StreamId.Stderr : StreamId.Stdout) : undefined, data: logLine(m, timestamps, details) }));
        await out.write(encodeFrames(frames));
      }
    }
    await out.flush();
  } catch (e) {
    // The status is out: report in band, as dockerd does, on the system-error stream.
    await out.flush().catch(() => undefined);
    if (multiplexed && !ctx.res.writableEnded) ctx.res.write(encodeFrame(StreamId.SystemErr, String((e as Error).message ?? e)));
  }
  ctx.res.end();
}

/**
 * POST /attach (hijacked: raw, or multiplexed without a tty) and GET /attach/ws (a websocket:
 * never multiplexed; binary frames from API 1.28, text frames before, as dockerd).
 */
async function attach(b: ContainerBackend, ctx: RequestContext, websocket: boolean): Promise<void> {
  const q = ctx.query;
  const detachKeys = optionalParam(q, 'detachKeys');
  const session = await b.containerAttach(ctx.params.name as string, {
    stdin: boolValue(q, 'stdin'),
    stdout: boolValue(q, 'stdout'),
    stderr: boolValue(q, 'stderr'),
    logs: boolValue(q, 'logs'),
    stream: boolValue(q, 'stream'),
    ...(detachKeys !== undefined ? { detachKeys } : {}),
  });
  // Attach takes no body, but some clients (dockerode) send their options as JSON: dockerd
  // drops it, and so must we, or it would reach the container as the first stdin bytes.
  await ctx.body(1 << 20);
  const conn = websocket ? ctx.websocket({ binary: versionAtLeast(ctx.apiVersion, '1.28') }) : ctx.hijack({ multiplexed: !session.tty });
  await session.run({ stdin: conn.stdin, stdout: conn.stdout, stderr: conn.stderr, signal: ctx.signal });
}

async function stats(b: ContainerBackend, ctx: RequestContext): Promise<void> {
  const stream = boolValueOrDefault(ctx.query, 'stream', true);
  const oneShot = versionAtLeast(ctx.apiVersion, '1.41') && boolValueOrDefault(ctx.query, 'one-shot', false);
  const iterable = await b.containerStats(ctx.params.name as string, { stream, oneShot, signal: ctx.signal });
  startStream(ctx.res, 'application/json');
  for await (const s of iterable) {
    if (ctx.signal.aborted) break;
    await writeChunk(ctx.res, `${JSON.stringify(s)}\n`, ctx.signal);
    if (!stream) break;
  }
  ctx.res.end();
}

function archivePath(ctx: RequestContext): string {
  const path = ctx.query.get('path') ?? '';
  if (path === '') throw invalidParameter('bad parameter: path cannot be empty');
  return path;
}

function setPathStat(ctx: RequestContext, stat: ContainerPathStat): void {
  ctx.res.setHeader('X-Docker-Container-Path-Stat', Buffer.from(JSON.stringify(stat)).toString('base64'));
}

async function archiveHead(b: ContainerBackend, ctx: RequestContext): Promise<void> {
  const stat = await b.containerArchiveStat(ctx.params.name as string, archivePath(ctx));
  setPathStat(ctx, stat);
  ctx.res.writeHead(200);
  ctx.res.end();
}

async function archiveGet(b: ContainerBackend, ctx: RequestContext): Promise<void> {
  const { stat, archive } = await b.containerArchiveGet(ctx.params.name as string, archivePath(ctx));
  setPathStat(ctx, stat);
  startStream(ctx.res, 'application/x-tar');
  await pipeToResponse(ctx, archive);
}

async function archivePut(b: ContainerBackend, ctx: RequestContext): Promise<void> {
  const path = archivePath(ctx);
  await b.containerArchivePut(ctx.params.name as string, path, ctx.bodyStream(), {
    noOverwriteDirNonDir: boolValue(ctx.query, 'noOverwriteDirNonDir'),
    copyUIDGID: boolValue(ctx.query, 'copyUIDGID'),
  });
  ctx.res.writeHead(200);
  ctx.res.end();
}

/** Copy a stream into the response, stopping when the client goes away. */
export async function pipeToResponse(ctx: RequestContext, source: NodeJS.ReadableStream & { destroy?: () => void }): Promise<void> {
  try {
    for await (const chunk of source) {
      if (ctx.signal.aborted) break;
      await writeChunk(ctx.res, chunk as Buffer, ctx.signal);
    }
  } finally {
    source.destroy?.();
  }
  ctx.res.end();
}

async function update(b: ContainerBackend, ctx: RequestContext): Promise<void> {
  const body = (await jsonObject(ctx, 'update config', true)) ?? {};
  const cfg = validateBody<ContainerUpdateConfig>(body, containerUpdateSchema);
  if (versionLessThan(ctx.apiVersion, '1.40')) delete cfg.PidsLimit;
  // 0 and negative values mean "unlimited" when updating.
  if (cfg.PidsLimit !== undefined && cfg.PidsLimit !== null && cfg.PidsLimit <= 0) cfg.PidsLimit = 0;
  const res = await b.containerUpdate(ctx.params.name as string, cfg);
  writeJson(ctx.res, 200, { Warnings: res.Warnings ?? [] });
}

async function commit(b: ContainerBackend, ctx: RequestContext): Promise<void> {
  const q = ctx.query;
  const body = await jsonObject(ctx, 'config', true);
  const config = body ? validateBody<ContainerConfig>(body, containerConfigSchema) : undefined;
  const repo = optionalParam(q, 'repo');
  const tag = optionalParam(q, 'tag');
  const res = await b.containerCommit({
    container: q.get('container') ?? '',
    comment: q.get('comment') ?? '',
    author: q.get('author') ?? '',
    pause: boolValueOrDefault(q, 'pause', true),
    changes: queryList(q, 'changes'),
    ...(repo !== undefined ? { repo } : {}),
    ...(tag !== undefined ? { tag } : {}),
    ...(config !== undefined ? { config } : {}),
  });
  writeJson(ctx.res, 201, res);
}

export function containerRoutes(b: ContainerBackend): Route[] {
  const name = (ctx: RequestContext): string => ctx.params.name as string;
  return [
    route('HEAD', '/containers/{name*}/archive', (ctx) => archiveHead(b, ctx)),
    route('GET', '/containers/json', (ctx) => list(b, ctx)),
    route('GET', '/containers/{name*}/export', async (ctx) => {
      const archive = await b.containerExport(name(ctx));
      startStream(ctx.res, 'application/x-tar');
      await pipeToResponse(ctx, archive);
    }),
    route('GET', '/containers/{name*}/changes', async (ctx) => writeJson(ctx.res, 200, await b.containerChanges(name(ctx)))),
    route('GET', '/containers/{name*}/json', async (ctx) =>
      writeJson(ctx.res, 200, await b.containerInspect(name(ctx), { size: boolValue(ctx.query, 'size') })),
    ),
    route('GET', '/containers/{name*}/top', async (ctx) => writeJson(ctx.res, 200, await b.containerTop(name(ctx), ctx.query.get('ps_args') ?? ''))),
    route('GET', '/containers/{name*}/logs', (ctx) => logs(b, ctx)),
    route('GET', '/containers/{name*}/stats', (ctx) => stats(b, ctx)),
    route('GET', '/containers/{name*}/archive', (ctx) => archiveGet(b, ctx)),
    route('POST', '/containers/create', (ctx) => create(b, ctx)),
    route('POST', '/containers/prune', async (ctx) => writeJson(ctx.res, 200, await b.containerPrune(parseFilters(ctx.query.get('filters')))), {
      minVersion: '1.25',
    }),
    route('POST', '/containers/{name*}/kill', async (ctx) => {
      try {
        await b.containerKill(name(ctx), optionalParam(ctx.query, 'signal'));
      } catch (e) {
        throw withContext(e, `cannot kill container: ${name(ctx)}`);
      }
      writeNoContent(ctx.res);
    }),
    route('POST', '/containers/{name*}/pause', async (ctx) => {
      await b.containerPause(name(ctx));
      writeNoContent(ctx.res);
    }),
    route('POST', '/containers/{name*}/unpause', async (ctx) => {
      await b.containerUnpause(name(ctx));
      writeNoContent(ctx.res);
    }),
    route('POST', '/containers/{name*}/restart', async (ctx) => {
      await b.containerRestart(name(ctx), stopOptions(ctx));
      writeNoContent(ctx.res);
    }),
    route('POST', '/containers/{name*}/start', async (ctx) => {
      // A JSON object of more than `{}`-ish size: the HostConfig-on-start of API < 1.24.
      const length = ctx.req.headers['content-length'];
      if ((length !== undefined && Number(length) > 7) || ctx.req.headers['transfer-encoding'] !== undefined) {
        throw invalidParameter('starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24');
      }
      const checkpoint = optionalParam(ctx.query, 'checkpoint');
      const checkpointDir = optionalParam(ctx.query, 'checkpoint-dir');
      await b.containerStart(name(ctx), {
        ...(checkpoint !== undefined ? { checkpoint } : {}),
        ...(checkpointDir !== undefined ? { checkpointDir } : {}),
      });
      writeNoContent(ctx.res);
    }),
    route('POST', '/containers/{name*}/stop', async (ctx) => {
      await b.containerStop(name(ctx), stopOptions(ctx));
      writeNoContent(ctx.res);
    }),
    route('POST', '/containers/{name*}/wait', (ctx) => wait(b, ctx)),
    route('POST', '/containers/{name*}/resize', async (ctx) => {
      const h = uint32Value(ctx.query, 'h', 'resize height');
      const w = uint32Value(ctx.query, 'w', 'resize width');
      await b.containerResize(name(ctx), h, w);
      ctx.res.writeHead(200);
      ctx.res.end();
    }),
    route('POST', '/containers/{name*}/attach', (ctx) => attach(b, ctx, false)),
    route('GET', '/containers/{name*}/attach/ws', (ctx) => attach(b, ctx, true)),
    route('POST', '/containers/{name*}/rename', async (ctx) => {
      await b.containerRename(name(ctx), ctx.query.get('name') ?? '');
      writeNoContent(ctx.res);
    }),
    route('POST', '/containers/{name*}/update', (ctx) => update(b, ctx)),
    route('POST', '/commit', (ctx) => commit(b, ctx)),
    route('PUT', '/containers/{name*}/archive', (ctx) => archivePut(b, ctx)),
    route('DELETE', '/containers/{name*}', async (ctx) => {
      await b.containerRemove(name(ctx), {
        force: boolValue(ctx.query, 'force'),
        volumes: boolValue(ctx.query, 'v'),
        link: boolValue(ctx.query, 'link'),
      });
      writeNoContent(ctx.res);
    }),
  ];
}
