// Pure evaluation of instructions against a stage's state: which variables are visible
// (global ARGs in FROM; declared ARGs with their --build-arg or default value, then ENV,
// inside a stage), the expansion each instruction gets, the image config changes of the
// metadata instructions, and the history text (`created_by`) of each step as Docker's
// legacy builder writes it.

import { posix } from 'node:path';
import { formatPlatform } from '../../image/platform.js';
import type { Platform } from '../../image/media-types.js';
import type { ImageRuntimeConfig } from '../../image/media-types.js';
import { expandWord, expandWords, type Vars } from './expand.js';
import type { ArgInstruction, CmdInstruction, CommandForm, CopyInstruction, FromInstruction, Healthcheck, Instruction, RunInstruction } from './instructions.js';

/** The runtime config part of an image config (what docker inspect shows as Config). */
export interface ContainerConfig extends ImageRuntimeConfig {
  Healthcheck?: Healthcheck;
  OnBuild?: string[] | null;
  Shell?: string[];
  [k: string]: unknown;
}

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** ARGs Docker defines without a declaration (proxies), not recorded in history. */
export const PREDEFINED_ARGS = new Set([
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
]);

export interface StageState {
  config: ContainerConfig;
  /** ARGs declared in this stage, with their values (undefined: declared without one). */
  args: Map<string, string | undefined>;
  /** --build-arg values. */
  buildArgs: ReadonlyMap<string, string>;
  /** Values of the ARGs before the first FROM. */
  globalArgs: ReadonlyMap<string, string | undefined>;
  /** --build-arg names some ARG consumed (others are reported unused). */
  usedBuildArgs: Set<string>;
  /** CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  author?: string;
  escape: string;
}

export function newStageState(base: ContainerConfig, buildArgs: ReadonlyMap<string, string>, globalArgs: ReadonlyMap<string, string | undefined>, escape = '\\'): StageState {
  return {
    config: structuredClone(base),
    args: new Map(),
    buildArgs,
    globalArgs,
    usedBuildArgs: new Set(),
    cmdSet: false,
    escape,
  };
}

/** Values of the global ARGs (before FROM): default, overridden by --build-arg. */
export function evaluateGlobalArgs(args: ArgInstruction[], buildArgs: ReadonlyMap<string, string>, used?: Set<string>, escape = '\\'): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const inst of args) {
    for (const a of inst.args) {
      const vars = definedOnly(out);
      let v = a.default !== undefined ? expandWord(a.default, vars, { escape }) : undefined;
      if (buildArgs.has(a.name)) {
        v = buildArgs.get(a.name);
        used?.add(a.name);
      }
      out.set(a.name, v);
    }
  }
  return out;
}

function definedOnly(m: ReadonlyMap<string, string | undefined>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of m) if (v !== undefined) out.set(k, v);
  return out;
}

/**
 * BuildKit's automatic platform ARGs (TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT and
 * the BUILD* ones): in the global scope, so FROM sees them and a stage sees them once it
 * declares `ARG TARGETARCH`. Declared global ARGs and --build-arg values win.
 */
export function withPlatformArgs(globalArgs: ReadonlyMap<string, string | undefined>, target: Platform, build: Platform): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const [prefix, p] of [['TARGET', target], ['BUILD', build]] as const) {
    out.set(`${prefix}PLATFORM`, formatPlatform(p));
    out.set(`${prefix}OS`, p.os);
    out.set(`${prefix}ARCH`, p.architecture);
    out.set(`${prefix}VARIANT`, p.variant ?? '');
  }
  for (const [k, v] of globalArgs) if (v !== undefined || !out.has(k)) out.set(k, v);
  return out;
}

/** FROM's image and platform, expanded with the global ARGs only. */
export function expandFrom(from: FromInstruction, globalArgs: ReadonlyMap<string, string | undefined>, escape = '\\'): { image: string; platform?: string } {
  const vars = definedOnly(globalArgs);
  const out: { image: string; platform?: string } = { image: expandWord(from.image, vars, { escape }) };
  if (from.platform !== undefined) out.platform = expandWord(from.platform, vars, { escape });
  return out;
}

export function envMap(env: readonly string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const eq = e.indexOf('=');
    if (eq < 0) m.set(e, '');
    else m.set(e.slice(0, eq), e.slice(eq + 1));
  }
  return m;
}

function setEnv(config: ContainerConfig, name: string, value: string): void {
  const env = [...(config.Env ?? [])];
  const i = env.findIndex((e) => e === name || e.startsWith(`${name}=`));
  if (i >= 0) env[i] = `${name}=${value}`;
  else env.push(`${name}=${value}`);
  config.Env = env;
}

/** The variables an instruction of the stage sees: its ARGs, then ENV on top. */
export function stageVars(s: StageState): Map<string, string> {
  const vars = definedOnly(s.args);
  for (const [k, v] of envMap(s.config.Env)) vars.set(k, v);
  return vars;
}

/** The ARGs with values a RUN gets in its environment (and its history `|N` prefix). */
export function runArgs(s: StageState): [string, string][] {
  const env = envMap(s.config.Env);
  const out: [string, string][] = [];
  for (const [k, v] of s.args) if (v !== undefined && !env.has(k)) out.push([k, v]);
  return out;
}

export function declareArgs(s: StageState, inst: ArgInstruction): void {
  for (const a of inst.args) {
    let v: string | undefined;
    if (a.default !== undefined) v = expandWord(a.default, stageVars(s), { escape: s.escape });
    else if (s.globalArgs.has(a.name)) v = s.globalArgs.get(a.name);
    if (s.buildArgs.has(a.name)) {
      v = s.buildArgs.get(a.name);
      s.usedBuildArgs.add(a.name);
    }
    s.args.set(a.name, v);
  }
}

/** CMD/ENTRYPOINT/RUN: exec form as is; shell form wrapped in the stage's SHELL. */
export function commandArgs(cmd: CommandForm, shell: readonly string[] | undefined): string[] {
  return cmd.exec ? [...cmd.args] : [...(shell ?? DEFAULT_SHELL), cmd.command];
}

/** `80`, `80/udp`, `8000-8002/tcp` → `80/tcp`…, as EXPOSE records them. */
export function exposedPorts(spec: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(.*))?$/.exec(spec);
  const proto = (m?.[3] ?? 'tcp').toLowerCase();
  if (!m) {
    const port = spec.split('/')[0]!;
    throw new Error(`invalid containerPort: ${port}`);
  }
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new Error(`invalid proto: ${m[3]}`);
  const start = Number(m[1]);
  const end = m[2] !== undefined ? Number(m[2]) : start;
  if (start > 65535 || end > 65535 || end < start) throw new Error(`invalid containerPort: ${spec.split('/')[0]}`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

function nop(s: StageState, text: string): string {
  return `${(s.config.Shell ?? DEFAULT_SHELL).join(' ')} #(nop)  ${text}`;
}

function cmdText(kind: string, cmd: CommandForm, args: string[]): string {
  return `${kind} ${JSON.stringify(cmd.exec ? cmd.args : args)}`;
}

/**
 * Applies a metadata instruction (everything but FROM, RUN, COPY, ADD) to the stage's
 * config; returns the history `created_by` of the step.
 */
export function applyMetadata(s: StageState, inst: Instruction): string {
  const vars = stageVars(s);
  const word = (w: string): string => expandWord(w, vars, { escape: s.escape });
  const c = s.config;
  switch (inst.kind) {
    case 'ENV': {
      const parts: string[] = [];
      for (const [k, raw] of inst.pairs) {
        // Every value sees the variables as they were before this line (Docker expands the line first).
        const v = expandWord(raw, vars, { escape: s.escape });
        setEnv(c, k, v);
        parts.push(`${k}=${v}`);
      }
      return nop(s, `ENV ${parts.join(' ')}`);
    }
    case 'LABEL': {
      const labels = { ...(c.Labels ?? {}) };
      const parts: string[] = [];
      for (const [k, raw] of inst.pairs) {
        const key = word(k);
        const v = word(raw);
        labels[key] = v;
        parts.push(`${key}=${v}`);
      }
      c.Labels = labels;
      return nop(s, `LABEL ${parts.join(' ')}`);
    }
    case 'ARG': {
      declareArgs(s, inst);
      return nop(s, `ARG ${inst.args.map((a) => (a.default !== undefined ? `${a.name}=${a.default}` : a.name)).join(' ')}`);
    }
    case 'WORKDIR': {
      const p = word(inst.value);
      c.WorkingDir = posix.isAbsolute(p) ? posix.normalize(p) : posix.join(c.WorkingDir || '/', p);
      if (c.WorkingDir.length > 1) c.WorkingDir = c.WorkingDir.replace(/\/+$/, '');
      // dockerd's WORKDIR (like COPY/ADD) writes "#(nop) " and the text as one word: one space.
      return `${(s.config.Shell ?? DEFAULT_SHELL).join(' ')} #(nop) WORKDIR ${c.WorkingDir}`;
    }
    case 'USER':
      c.User = word(inst.value);
      return nop(s, `USER ${c.User}`);
    case 'STOPSIGNAL':
      c.StopSignal = word(inst.value);
      return nop(s, `STOPSIGNAL ${c.StopSignal}`);
    case 'MAINTAINER':
      s.author = inst.value;
      return nop(s, `MAINTAINER ${inst.value}`);
    case 'CMD':
    case 'ENTRYPOINT': {
      const args = commandArgs(inst.cmd, c.Shell);
      if (inst.kind === 'CMD') {
        c.Cmd = args;
        s.cmdSet = true;
      } else {
        c.Entrypoint = args;
        if (!s.cmdSet) c.Cmd = null;
      }
      return nop(s, cmdText(inst.kind, inst.cmd, args));
    }
    case 'EXPOSE': {
      const ports = { ...(c.ExposedPorts ?? {}) };
      const added: string[] = [];
      for (const raw of inst.values) {
        for (const w of expandWords(raw, vars, { escape: s.escape })) {
          for (const p of exposedPorts(w)) {
            ports[p] = {};
            added.push(p);
          }
        }
      }
      c.ExposedPorts = ports;
      return nop(s, `EXPOSE ${[...new Set(added)].sort().join(' ')}`);
    }
    case 'VOLUME': {
      const vols = { ...(c.Volumes ?? {}) };
      const added: string[] = [];
      for (const raw of inst.values) {
        const vs = inst.json ? [raw] : expandWords(raw, vars, { escape: s.escape });
        for (const v of vs) {
          const t = inst.json ? v.trim() : v;
          if (t === '') throw new Error('VOLUME specified can not be an empty string');
          vols[t] = {};
          added.push(t);
        }
      }
      c.Volumes = vols;
      return nop(s, `VOLUME [${added.join(' ')}]`);
    }
    case 'SHELL':
      c.Shell = [...inst.shell];
      return nop(s, `SHELL ${JSON.stringify(inst.shell)}`);
    case 'HEALTHCHECK':
      c.Healthcheck = { ...inst.healthcheck };
      return nop(s, `HEALTHCHECK &{${JSON.stringify(inst.healthcheck.Test)} ${inst.healthcheck.Interval ?? 0} ${inst.healthcheck.Timeout ?? 0} ${inst.healthcheck.StartPeriod ?? 0} ${inst.healthcheck.StartInterval ?? 0} ${inst.healthcheck.Retries ?? 0}}`);
    case 'ONBUILD':
      c.OnBuild = [...(c.OnBuild ?? []), inst.expression];
      return nop(s, `ONBUILD ${inst.expression}`);
    default:
      throw new Error(`${inst.kind} is not a metadata instruction`);
  }
}

/** What a RUN executes (argv) and its history text, `|N a=b … /bin/sh -c cmd` as Docker writes it. */
export function runCommand(s: StageState, inst: RunInstruction): { argv: string[]; createdBy: string; env: string[] } {
  let cmd: CommandForm = inst.cmd;
  if (!cmd.exec && inst.heredocs.length > 0) {
    const only = /^<<-?(["']?)([a-zA-Z_][a-zA-Z0-9_]*)\1$/.exec(cmd.command.trim());
    if (only && inst.heredocs.length === 1) {
      // `RUN <<EOF … EOF`: the body is the script.
      cmd = { exec: false, command: inst.heredocs[0]!.content };
    } else {
      // `RUN cmd <<EOF …`: the shell gets the line with its heredoc bodies, as written.
      cmd = { exec: false, command: `${cmd.command}\n${inst.heredocs.map((h) => `${h.content}${h.name}\n`).join('')}` };
    }
  }
  const argv = commandArgs(cmd, s.config.Shell);
  const args = runArgs(s);
  const env = [...(s.config.Env ?? [])];
  for (const [k, v] of args) env.push(`${k}=${v}`);
  const prefix = args.length ? `|${args.length} ${args.map(([k, v]) => `${k}=${v}`).join(' ')} ` : '';
  return { argv, createdBy: `${prefix}${argv.join(' ')}`, env };
}

export interface CopyPlan {
  sources: string[];
  dest: string;
  from?: string;
  chown?: string;
  chmod?: string;
}

/** COPY/ADD arguments expanded with the stage's variables (JSON form too, as Docker does). */
export function expandCopy(s: StageState, inst: CopyInstruction): CopyPlan {
  const vars = stageVars(s);
  const word = (w: string): string => expandWord(w, vars, { escape: s.escape });
  const out: CopyPlan = { sources: inst.sources.map((w) => (inst.json ? w : word(w))), dest: inst.json ? inst.dest : word(inst.dest) };
  if (inst.json) {
    out.sources = inst.sources.map((w) => expandWord(w.replace(/(["'])/g, `${s.escape}$1`), vars, { escape: s.escape }));
    out.dest = expandWord(inst.dest.replace(/(["'])/g, `${s.escape}$1`), vars, { escape: s.escape });
  }
  if (inst.from !== undefined) out.from = word(inst.from);
  if (inst.chown !== undefined) out.chown = word(inst.chown);
  if (inst.chmod !== undefined) out.chmod = word(inst.chmod);
  return out;
}

/** The heredoc bodies of a COPY/ADD, expanded unless their delimiter was quoted. */
export function heredocFiles(s: StageState, inst: CopyInstruction): Map<string, string> {
  const vars = stageVars(s);
  const out = new Map<string, string>();
  for (const h of inst.heredocs) {
    out.set(h.name, h.expand ? expandHeredoc(h.content, vars) : h.content);
  }
  return out;
}

/** $VAR and ${VAR…} in a heredoc body; quotes are kept (it is file content, not words). */
export function expandHeredoc(body: string, vars: Vars): string {
  return body.replace(/\$(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)/g, (m) => expandWord(m, vars));
}

/** `kind` COPY or ADD: the `/bin/sh -c #(nop) COPY file:<hash> in <dest> ` history text. */
/** History text of COPY/ADD; the destination as written (after expansion), as dockerd 20.10 writes it (`in ./ `). */
export function copyCreatedBy(s: StageState, kind: 'COPY' | 'ADD', what: string, dest: string): string {
  return `${(s.config.Shell ?? DEFAULT_SHELL).join(' ')} #(nop) ${kind} ${what} in ${dest} `;
}

export function isCmd(inst: Instruction): inst is CmdInstruction {
  return inst.kind === 'CMD' || inst.kind === 'ENTRYPOINT';
}
