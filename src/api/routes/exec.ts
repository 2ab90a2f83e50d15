// Exec routes: create, start (hijacked unless detached), resize, inspect.

import { invalidParameter } from '../../errors.js';
import type { ExecBackend } from '../backend.js';
import { uint32Value } from '../body.js';
import { writeJson, type RequestContext } from '../context.js';
import { route, type Route } from '../router.js';
import { execCreateSchema, execStartSchema } from '../schemas.js';
import type { ExecCreateRequest, ExecStartRequest } from '../types/exec.js';
import { validateBody } from '../validate.js';
import { versionLessThan } from '../version.js';
import { jsonObject } from './common.js';

async function create(b: ExecBackend, ctx: RequestContext): Promise<void> {
  const body = (await jsonObject(ctx, 'exec config', true)) ?? {};
  const config = validateBody<ExecCreateRequest & { Cmd?: string[] | string | null }>(body, execCreateSchema);
  if (typeof config.Cmd === 'string') config.Cmd = [config.Cmd];
  if (!config.Cmd || config.Cmd.length === 0) throw invalidParameter('No exec command specified');
  if (versionLessThan(ctx.apiVersion, '1.42')) delete config.ConsoleSize;
  const res = await b.execCreate(ctx.params.name as string, config as ExecCreateRequest);
  writeJson(ctx.res, 201, { Id: res.Id });
}

async function start(b: ExecBackend, ctx: RequestContext): Promise<void> {
  const body = (await jsonObject(ctx, 'exec start config', true)) ?? {};
  const opts = validateBody<ExecStartRequest>(body, execStartSchema);
  let consoleSize: [number, number] | undefined;
  if (opts.ConsoleSize && opts.Tty && !versionLessThan(ctx.apiVersion, '1.42')) {
    if (opts.ConsoleSize.length !== 2) throw invalidParameter('invalid JSON: ConsoleSize: expected an array of 2 numbers');
    consoleSize = [opts.ConsoleSize[0], opts.ConsoleSize[1]];
  }
  const detach = opts.Detach === true;
  const session = await b.execStart(ctx.params.id as string, {
    detach,
    tty: opts.Tty === true,
    ...(consoleSize !== undefined ? { consoleSize } : {}),
  });
  if (detach) {
    await session.run({ signal: ctx.signal });
    ctx.res.writeHead(200);
    ctx.res.end();
    return;
  }
  const conn = ctx.hijack({ multiplexed: !session.tty });
  await session.run({ stdin: conn.stdin, stdout: conn.stdout, stderr: conn.stderr, signal: ctx.signal, ...(conn.handOff ? { handOff: (send) => conn.handOff!(send) } : {}) });
}

export function execRoutes(b: ExecBackend): Route[] {
  return [
    route('GET', '/exec/{id*}/json', async (ctx) => writeJson(ctx.res, 200, await b.execInspect(ctx.params.id as string))),
    route('POST', '/containers/{name*}/exec', (ctx) => create(b, ctx)),
    route('POST', '/exec/{id*}/start', (ctx) => start(b, ctx)),
    route('POST', '/exec/{id*}/resize', async (ctx) => {
      const h = uint32Value(ctx.query, 'h', 'resize height');
      const w = uint32Value(ctx.query, 'w', 'resize width');
      await b.execResize(ctx.params.id as string, h, w);
      ctx.res.writeHead(200);
      ctx.res.end();
    }),
  ];
}
