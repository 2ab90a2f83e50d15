// POST /build with the legacy builder's parameters and JSON stream (what
// `DOCKER_BUILDKIT=0 docker build` sends and expects): the body is the context tar, the
// answer `{"stream": "Step 1/4 : …"}` lines, `{"aux": {"ID": "sha256:…"}}`, and an
// `error`/`errorDetail` line when the build fails. POST /build/prune empties the cache.

import type { Readable } from 'node:stream';
import { invalidParameter, notImplemented } from '../../errors.js';
import type { ProgressSink } from '../backend.js';
import { boolValue } from '../body.js';
import { writeJson, type RequestContext } from '../context.js';
import { route, type Route } from '../router.js';
import { optionalParam, progressResponse } from './common.js';

export interface ImageBuildOptions {
  /** Path of the Dockerfile in the context (default `Dockerfile`). */
  dockerfile: string;
  tags: string[];
  target?: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  noCache: boolean;
  pull: boolean;
  quiet: boolean;
  /** networkmode: default, none, host. */
  networkMode?: string;
  platform?: string;
  /** The request's Content-Type (application/x-tar; gzip contexts are sniffed). */
  contentType?: string;
  /** `berthcontext`: the body is an incremental context for this key (Berth's own, docs/build.md). */
  contextKey?: string;
  signal?: AbortSignal;
}

export interface BuildBackend {
  imageBuild(opts: ImageBuildOptions, context: Readable, progress: ProgressSink): Promise<void>;
  buildContextNeed?(key: string, manifest: unknown): Promise<string[]>;
  buildPrune?(opts: { all: boolean }): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>;
}

/** A JSON object of strings in a query parameter (buildargs, labels). */
function jsonMap(ctx: RequestContext, key: string): Record<string, string> {
  const raw = ctx.query.get(key);
  if (raw === null || raw === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalidParameter(`invalid ${key}: ${raw}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw invalidParameter(`invalid ${key}: ${raw}`);
  const out: Record<string, string> = {};
  // A build arg sent as null means "take the value from the environment": none here.
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'string') out[k] = x;
  return out;
}

export function buildRoutes(b: Partial<BuildBackend>): Route[] {
  return [
    route('POST', '/build', async (ctx) => {
      if (!b.imageBuild) throw notImplemented('image builds are not available in this Berth daemon yet');
      const q = ctx.query;
      if (q.get('version') === '2') throw notImplemented('BuildKit is not supported by Berth: use the legacy builder (DOCKER_BUILDKIT=0)');
      if (optionalParam(q, 'remote')) throw notImplemented('building from a remote context is not supported by Berth yet');
      const target = optionalParam(q, 'target');
      const networkMode = optionalParam(q, 'networkmode');
      const platform = optionalParam(q, 'platform');
      const contentType = ctx.req.headers['content-type'];
      const contextKey = optionalParam(q, 'berthcontext');
      const opts: ImageBuildOptions = {
        dockerfile: q.get('dockerfile') || 'Dockerfile',
        tags: q.getAll('t').filter(Boolean),
        buildArgs: jsonMap(ctx, 'buildargs'),
        labels: jsonMap(ctx, 'labels'),
        noCache: boolValue(q, 'nocache'),
        pull: boolValue(q, 'pull'),
        quiet: boolValue(q, 'q'),
        signal: ctx.signal,
        ...(target !== undefined ? { target } : {}),
        ...(networkMode !== undefined ? { networkMode } : {}),
        ...(platform !== undefined ? { platform } : {}),
        ...(contentType !== undefined ? { contentType } : {}),
        ...(contextKey !== undefined ? { contextKey } : {}),
      };
      await progressResponse(ctx, (progress) => b.imageBuild!(opts, ctx.bodyStream(), progress));
    }),
    // Berth's own (under /_berth, never a Docker path): which files of a context manifest the daemon lacks for a context key.
    route('POST', '/_berth/build/context', async (ctx) => {
      if (!b.buildContextNeed) throw notImplemented('incremental build contexts are not available in this Berth daemon');
      const key = optionalParam(ctx.query, 'key');
      if (key === undefined) throw invalidParameter('missing query parameter "key" (the build context key)');
      writeJson(ctx.res, 200, { Need: await b.buildContextNeed(key, await ctx.json()) });
    }),
    route('POST', '/build/prune', async (ctx) => {
      if (!b.buildPrune) throw notImplemented('build cache prune is not available in this Berth daemon yet');
      writeJson(ctx.res, 200, await b.buildPrune({ all: boolValue(ctx.query, 'all') }));
    }, { minVersion: '1.31' }),
  ];
}
