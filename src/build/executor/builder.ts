// The build executor: a parsed Dockerfile and a context → an image in the image store.
//
// Each stage starts from an image of the store (unpacked into committed snapshots named
// by chain ID), another stage, or scratch. Metadata instructions change the config only.
// RUN, COPY and ADD each get a snapshot prepared on the current top chain snapshot,
// mounted on <data-root>/build/<build>/<step>, changed (a container run by berth-init,
// or files copied), unmounted; the upper directory is diffed into an uncompressed layer
// tar, written to the content store, and the snapshot is committed under the new chain
// ID (it *is* that layer's snapshot, so nothing is unpacked again). Every step has a
// cache key (cache.ts); a hit reuses the recorded layer when its blob and snapshot are
// still there. Steps clean up their mount, cgroup, process and uncommitted snapshot
// whether they succeed or fail.

import { openCgroupManager } from '../../runtime/cgroups/index.js';
import { randomBytes, createHash } from 'node:crypto';
import { lstat, mkdir, rm, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError, errorMessage, invalidParameter, isBerthError, notImplemented } from '../../errors.js';
import type { ContentStore } from '../../image/content/store.js';
import { packDirectory } from '../../image/layer/diff.js';
import { MediaType, type Descriptor, type HistoryEntry, type ImageConfig, type ImageManifest } from '../../image/media-types.js';
import type { Snapshotter } from '../../image/snapshot/snapshotter.js';
import type { ImageStore } from '../../image/store.js';
import { chainIds, unpackLayers } from '../../image/unpack.js';
import { formatPlatform, hostPlatform, parsePlatform, platformMatches } from '../../image/platform.js';
import type { Platform } from '../../image/media-types.js';
import { sha256Digest } from '../../image/content/digest.js';
import { atomicWriteFile } from '../../sys/atomic-write.js';
import { secureJoin } from '../../runtime/compile/index.js';
import type { BuildContext } from '../context/context.js';
import { hashContextSources, resolveContextSources, type FileDigestCache } from '../context/context.js';
import {
  applyMetadata, copyCreatedBy, evaluateGlobalArgs, expandCopy, expandFrom, heredocFiles, newStageState, parseDockerfile, parseTrigger,
  runCommand, withPlatformArgs, PREDEFINED_ARGS,
  type ContainerConfig, type CopyInstruction, type Dockerfile, type Instruction, type RunInstruction, type Stage, type StageState,
} from '../dockerfile/index.js';
import { BuildCache, cacheKey } from './cache.js';
import { archiveKind, copySources, downloadUrl, extractArchive, hashTree, placeDownload, resolveRootSources, writeHeredoc, destinationFor } from './copy.js';
import { withMount } from './mount.js';
import { runStep, type RunSandbox } from './run-step.js';
import { parseChmod, resolveChown } from './user.js';

export interface BuilderDeps {
  dataRoot: string;
  content: ContentStore;
  images: ImageStore;
  snapshotter: Snapshotter;
  /** Makes each RUN's spec (berthd's: src/engine/build-sandbox.ts). */
  sandbox: RunSandbox;
  /** First part of the name of each build's cgroup parent (default `berth-build`). */
  cgroupPrefix?: string;
}

export interface BuildOptions {
  context: BuildContext;
  /** Names for the image (`-t`, several). */
  tags?: string[];
  /** Stop after this stage (name or index). */
  target?: string;
  buildArgs?: Record<string, string>;
  /** Labels added to the final image (`--label`). */
  labels?: Record<string, string>;
  noCache?: boolean;
  /** Pull FROM images even when present (through pullImage). */
  pull?: boolean;
  /** Fetches an image into the store (the caller's registry access). */
  pullImage?: (ref: string, platform?: string) => Promise<void>;
  /** RUN's network: none (default) or host. */
  network?: 'none' | 'host';
  /** The platform to build for (`--platform`; default the host's): FROM images must be for it. */
  platform?: string;
  /** Write the image ID there (`--iidfile`). */
  iidfile?: string;
  /** Progress text, as the legacy builder streams it (`Step 1/4 : FROM busybox\n`…). */
  onOutput?: (text: string) => void;
  /** Bytes a RUN writes (default: passed to onOutput as text). */
  onRunOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
}

export interface BuildResult {
  /** The image ID (config digest). */
  imageId: string;
  manifest: Descriptor;
  tags: string[];
  /** RUN steps executed (not taken from the cache). */
  runsExecuted: number;
  cachedSteps: number;
  /** --build-arg names no ARG consumed (Docker warns about them). */
  unusedBuildArgs: string[];
}

/** What a stage holds at a point: layers, config, history, the running cache key. */
interface ImageState {
  diffIds: string[];
  layers: Descriptor[];
  history: HistoryEntry[];
  base: { architecture: string; os: string; variant?: string };
  cacheKey: string;
  /** True while every step so far came from the cache (nothing new was made). */
  cached: boolean;
}

interface StageResult {
  state: ImageState;
  stage: StageState;
}

function short(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

export class Builder {
  readonly cache: BuildCache;
  /** Content digests of context files by their stat (kept across builds and restarts). */
  private fileDigests: FileDigestCache | undefined;
  private readonly fileDigestsPath: string;

  constructor(readonly deps: BuilderDeps) {
    this.cache = new BuildCache(deps.dataRoot);
    this.fileDigestsPath = join(deps.dataRoot, 'build-cache', 'context-files.json');
  }

  async contextFileDigests(): Promise<FileDigestCache> {
    if (!this.fileDigests) {
      this.fileDigests = new Map();
      try {
        for (const [k, v] of Object.entries(JSON.parse(await readFile(this.fileDigestsPath, 'utf8')) as Record<string, string>)) this.fileDigests.set(k, v);
      } catch { /* none yet */ }
    }
    return this.fileDigests;
  }

  private async saveFileDigests(before: number): Promise<void> {
    const m = this.fileDigests;
    if (!m || m.size === before) return;
    // Bounded: the oldest entries go first.
    while (m.size > 100_000) m.delete(m.keys().next().value!);
    await atomicWriteFile(this.fileDigestsPath, JSON.stringify(Object.fromEntries(m)));
  }

  async build(opts: BuildOptions): Promise<BuildResult> {
    const before = (await this.contextFileDigests()).size;
    const run = new BuildRun(this, opts);
    try {
      return await run.execute();
    } finally {
      await this.saveFileDigests(before).catch(() => undefined);
    }
  }
}

class BuildRun {
  readonly id = randomBytes(8).toString('hex');
  readonly dir: string;
  readonly deps: BuilderDeps;
  readonly df: Dockerfile;
  readonly buildArgs: Map<string, string>;
  readonly usedArgs = new Set<string>();
  readonly globalArgs: Map<string, string | undefined>;
  readonly targetPlatform: Platform;
  readonly results = new Map<number, StageResult>();
  totalSteps = 0;
  step = 0;
  runsExecuted = 0;
  cachedSteps = 0;

  constructor(
    readonly builder: Builder,
    readonly opts: BuildOptions,
  ) {
    this.deps = builder.deps;
    this.dir = join(this.deps.dataRoot, 'build', this.id);
    this.df = parseDockerfile(opts.context.dockerfile, opts.context.dockerfileName);
    this.buildArgs = new Map(Object.entries(opts.buildArgs ?? {}));
    this.targetPlatform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
    this.globalArgs = withPlatformArgs(evaluateGlobalArgs(this.df.globalArgs, this.buildArgs, this.usedArgs, this.df.directives.escape), this.targetPlatform, hostPlatform());
  }

  out(text: string): void {
    this.opts.onOutput?.(text);
  }

  /** The stage index `--target` or `--from`/FROM name refers to. */
  stageIndex(name: string, before = Infinity): number | undefined {
    const lower = name.toLowerCase();
    const byName = this.df.stages.find((s) => s.name === lower && s.index < before);
    if (byName) return byName.index;
    if (/^\d+$/.test(name) && Number(name) < Math.min(before, this.df.stages.length)) return Number(name);
    return undefined;
  }

  /** Stages the target needs (FROM another stage, COPY --from). */
  neededStages(target: number): Set<number> {
    const need = new Set<number>();
    const visit = (i: number): void => {
      if (need.has(i)) return;
      need.add(i);
      const s = this.df.stages[i]!;
      const from = this.stageIndex(expandFrom(s.from, this.globalArgs, this.df.directives.escape).image, i);
      if (from !== undefined) visit(from);
      for (const inst of s.instructions) {
        if (inst.kind === 'COPY' && inst.from !== undefined) {
          const f = this.stageIndex(inst.from, i);
          if (f !== undefined) visit(f);
        }
      }
    };
    visit(target);
    return need;
  }

  async execute(): Promise<BuildResult> {
    let target = this.df.stages.length - 1;
    if (this.opts.target !== undefined) {
      const t = this.stageIndex(this.opts.target);
      if (t === undefined) throw invalidParameter(`failed to reach build target ${this.opts.target} in Dockerfile`);
      target = t;
    }
    const need = this.neededStages(target);
    const stages = this.df.stages.filter((s) => need.has(s.index));
    this.totalSteps = stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
    if (this.deps.snapshotter.driver !== 'overlay') throw notImplemented('build needs the overlay snapshotter (vfs builds are not implemented yet)');
    // A frontend image cannot run here: the built-in parser reads the file, as with the legacy builder.
    if (this.df.directives.syntax !== undefined) {
      this.out(`[Warning] # syntax=${this.df.directives.syntax}: BuildKit frontends are not run by Berth; the Dockerfile is read by Berth's own parser\n`);
    }
    await mkdir(this.dir, { recursive: true });
    try {
      for (const s of stages) this.results.set(s.index, await this.buildStage(s));
      const final = this.results.get(target)!;
      return await this.finish(final);
    } finally {
      await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
      // The steps' cgroups live under one parent of this run's own: remove it once all
      // steps are done, rather than counting on each step's walk up the tree.
      await openCgroupManager({ cgroupsPath: this.cgroupParent() }).destroy().catch(() => undefined);
    }
  }

  cgroupParent(): string {
    return `/${this.deps.cgroupPrefix ?? 'berth-build'}-${this.id}`;
  }

  stepLine(text: string): void {
    this.step++;
    this.out(`Step ${this.step}/${this.totalSteps} : ${text}\n`);
  }

  async baseState(stage: Stage): Promise<{ state: ImageState; config: ContainerConfig; author?: string }> {
    const { image, platform } = expandFrom(stage.from, this.globalArgs, this.df.directives.escape);
    if (image === '') throw invalidParameter(`${this.opts.context.dockerfileName}:${stage.from.line}: base name (${stage.from.image}) should not be blank`);
    const ref = this.stageIndex(image, stage.index);
    if (ref !== undefined) {
      const r = this.results.get(ref)!;
      return { state: { ...r.state, diffIds: [...r.state.diffIds], layers: [...r.state.layers], history: [...r.state.history] }, config: structuredClone(r.stage.config), ...(r.stage.author ? { author: r.stage.author } : {}) };
    }
    if (image.toLowerCase() === 'scratch') {
      const t = platform ? parsePlatform(platform) : this.targetPlatform;
      return { state: { diffIds: [], layers: [], history: [], base: { architecture: t.architecture, os: t.os, ...(t.variant ? { variant: t.variant } : {}) }, cacheKey: platformMatches(hostPlatform(), t) ? 'scratch' : `scratch:${formatPlatform(t)}`, cached: true }, config: {} };
    }
    const img = await this.resolveImage(image, platform ? parsePlatform(platform) : this.opts.platform ? this.targetPlatform : undefined);
    const diffIds = img.config.rootfs?.diff_ids ?? [];
    if (diffIds.length) await unpackLayers(this.deps.content, this.deps.snapshotter, img.manifestDoc.layers, diffIds);
    const base: ImageState['base'] = { architecture: img.config.architecture, os: img.config.os };
    if (img.config.variant) base.variant = img.config.variant;
    return {
      state: { diffIds: [...diffIds], layers: [...img.manifestDoc.layers], history: [...(img.config.history ?? [])], base, cacheKey: `image:${img.id}`, cached: true },
      config: structuredClone((img.config.config ?? {}) as ContainerConfig),
      ...(img.config.author ? { author: img.config.author } : {}),
    };
  }

  /**
   * The FROM image, pulled when missing (or always with --pull). With a platform (FROM
   * --platform, or the build's --platform), an image of another platform in the store is
   * pulled again for the one asked; Berth does not emulate, so an image that still does not
   * match is refused as dockerd refuses it.
   */
  async resolveImage(image: string, want?: Platform): Promise<Awaited<ReturnType<ImageStore['resolve']>>> {
    const pull = this.opts.pullImage;
    const pullFor = (): Promise<void> => pull!(image, want ? formatPlatform(want) : undefined);
    if (this.opts.pull && pull) await pullFor();
    let img: Awaited<ReturnType<ImageStore['resolve']>> | undefined;
    try {
      img = await this.deps.images.resolve(image);
    } catch (e) {
      if (!isBerthError(e, 'NotFound') || !pull || this.opts.pull) throw e;
    }
    const have = (i: NonNullable<typeof img>): Platform => ({ os: i.config.os, architecture: i.config.architecture, ...(i.config.variant ? { variant: i.config.variant } : {}) });
    if (!img || (want && !platformMatches(want, have(img)) && pull && !this.opts.pull)) {
      await pullFor();
      img = await this.deps.images.resolve(image);
    }
    if (want && !platformMatches(want, have(img))) {
      throw invalidParameter(`image with reference ${image} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(have(img))}`);
    }
    return img;
  }

  async buildStage(stage: Stage): Promise<StageResult> {
    this.stepLine(stage.from.original.replace(/^\S+/, 'FROM'));
    const base = await this.baseState(stage);
    const state = base.state;
    const s = newStageState(base.config, this.buildArgs, this.globalArgs, this.df.directives.escape);
    if (base.author) s.author = base.author;
    this.out(` ---> ${state.cacheKey.startsWith('scratch') ? 'scratch' : short(state.cacheKey.replace(/^image:/, ''))}\n`);
    // ONBUILD triggers of the base run first, then are dropped from the new image.
    const triggers = s.config.OnBuild ?? [];
    if (triggers.length) {
      s.config.OnBuild = null;
      this.out(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      for (const t of triggers) await this.instruction(s, state, parseTrigger(t), stage, true);
    }
    for (const inst of stage.instructions) await this.instruction(s, state, inst, stage);
    return { state, stage: s };
  }

  async instruction(s: StageState, state: ImageState, inst: Instruction, stage: Stage, trigger = false): Promise<void> {
    if (!trigger) this.stepLine(inst.original.replace(/^\S+/, inst.kind));
    const at = `${this.opts.context.dockerfileName}:${inst.line}`;
    try {
      if (inst.kind === 'RUN') await this.runInstruction(s, state, inst);
      else if (inst.kind === 'COPY' || inst.kind === 'ADD') await this.copyInstruction(s, state, inst, stage);
      else await this.metadataInstruction(s, state, inst);
    } catch (e) {
      if (e instanceof BerthError && (e.kind !== 'InvalidParameter' || e.message.startsWith(`${this.opts.context.dockerfileName}:`))) throw e;
      if (e instanceof BerthError) throw new BerthError(e.kind, `${at}: ${e.message}`, { cause: e });
      throw invalidParameter(`${at}: ${errorMessage(e)}`);
    }
  }

  /** Looks a step up in the cache; with a layer, only when its blob (and, given the stage, its snapshot) still exist. */
  async cached(key: string, state: ImageState | undefined): Promise<{ created: string; createdBy: string; layer?: Descriptor; diffId?: string } | undefined> {
    if (this.opts.noCache) return undefined;
    const rec = await this.builder.cache.get(key);
    if (!rec) return undefined;
    if (rec.layer && rec.diffId) {
      if (!(await this.deps.content.has(rec.layer.digest))) return undefined;
      if (!state) return rec;
      const chain = chainIds([...state.diffIds, rec.diffId]).at(-1)!;
      const ok = await this.deps.snapshotter.stat(chain).then(() => true, () => false);
      if (!ok) return undefined;
    }
    return rec;
  }

  async metadataInstruction(s: StageState, state: ImageState, inst: Instruction): Promise<void> {
    const configBefore = structuredClone(s.config);
    const createdBy = applyMetadata(s, inst);
    const key = cacheKey({ parent: state.cacheKey, config: configBefore, instruction: createdBy });
    const hit = await this.cached(key, state);
    if (hit) {
      this.cachedSteps++;
      this.out(' ---> Using cache\n');
    }
    const created = hit?.created ?? new Date().toISOString();
    if (!hit) await this.builder.cache.put(key, { created, createdBy });
    state.history.push({ created, created_by: createdBy, empty_layer: true });
    state.cacheKey = key;
    state.cached &&= Boolean(hit);
    this.out(` ---> ${short(key)}\n`);
  }

  /**
   * A step that makes a layer: on a cache hit the recorded layer is taken; otherwise a
   * snapshot is prepared, mounted, changed by `change`, diffed, stored and committed.
   */
  /**
   * A step that makes a layer: from the cache, or `change` applied to a snapshot of the stage
   * (of nothing, for `link`) and diffed. A linked layer (COPY --link) is made and cached
   * without the layers below, then applied onto them (a rebase, as BuildKit does): its cache
   * record is found again when only the base changed.
   */
  async layerStep(state: ImageState, key: string, createdBy: string, change: (rootfs: string, stepId: string) => Promise<void>, link = false): Promise<boolean> {
    const hit = await this.cached(key, link ? undefined : state);
    // The stage's key still follows the layers below it: later steps must not be shared across bases.
    const stageKey = link ? cacheKey({ parent: state.cacheKey, config: {}, instruction: `link ${key}` }) : key;
    if (hit && hit.layer && hit.diffId) {
      if (link) await this.rebase(state, hit.layer, hit.diffId);
      this.cachedSteps++;
      this.out(' ---> Using cache\n');
      this.pushLayer(state, hit.layer, hit.diffId, hit.created, createdBy, stageKey);
      return true;
    }
    const { snapshotter, content } = this.deps;
    const stepId = randomBytes(32).toString('hex');
    const parent = state.diffIds.length && !link ? chainIds(state.diffIds).at(-1) : undefined;
    const snapKey = `build-${this.id}-${stepId.slice(0, 12)}`;
    const mounts = await snapshotter.prepare(snapKey, parent, { 'berth.build': this.id });
    let committed = false;
    try {
      await withMount(mounts, join(this.dir, stepId.slice(0, 12)), (rootfs) => change(rootfs, stepId));
      const upper = await snapshotter.applyDir(snapKey);
      // Uncompressed, the blob's digest is the diff ID: the tar is streamed into the content
      // store and hashed once there, never held in memory.
      const stored = await content.ingestStream(packDirectory(upper, { overlay: true }));
      const blob = { digest: stored.digest, diffId: stored.digest };
      const layer: Descriptor = { mediaType: MediaType.ociLayer, digest: stored.digest, size: stored.size };
      const chain = chainIds([...state.diffIds, blob.diffId]).at(-1)!;
      let exists = await snapshotter.stat(chain).then(() => true, () => false);
      if (!exists && !(link && state.diffIds.length)) {
        try {
          await snapshotter.commit(chain, snapKey, { 'berth.layer.digest': layer.digest, 'berth.layer.diffid': blob.diffId });
        } catch (e) {
          // Another build of the same step committed the same chain meanwhile: its snapshot is this one's twin.
          if (!isBerthError(e, 'Conflict') || !(await snapshotter.stat(chain).then(() => true, () => false))) throw e;
          exists = true;
        }
      }
      if (exists || (link && state.diffIds.length)) await snapshotter.remove(snapKey);
      committed = true;
      if (link && !exists) await this.rebase(state, layer, blob.diffId);
      const created = new Date().toISOString();
      await this.builder.cache.put(key, { created, createdBy, layer, diffId: blob.diffId });
      this.pushLayer(state, layer, blob.diffId, created, createdBy, stageKey);
      state.cached = false;
      return false;
    } finally {
      if (!committed) await snapshotter.remove(snapKey).catch(() => undefined);
    }
  }

  /** The snapshot of `layer` on top of the stage's layers (applied from its blob when missing). */
  async rebase(state: ImageState, layer: Descriptor, diffId: string): Promise<void> {
    await unpackLayers(this.deps.content, this.deps.snapshotter, [...state.layers, layer], [...state.diffIds, diffId]);
  }

  pushLayer(state: ImageState, layer: Descriptor, diffId: string, created: string, createdBy: string, key: string): void {
    state.layers.push(layer);
    state.diffIds.push(diffId);
    state.history.push({ created, created_by: createdBy });
    state.cacheKey = key;
    this.out(` ---> ${short(key)}\n`);
  }

  async runInstruction(s: StageState, state: ImageState, inst: RunInstruction): Promise<void> {
    const { argv, createdBy, env } = runCommand(s, inst);
    const network = inst.network === 'host' ? 'host' : inst.network === 'none' ? 'none' : (this.opts.network ?? 'none');
    const key = cacheKey({ parent: state.cacheKey, config: s.config, instruction: `RUN ${JSON.stringify({ argv, env, network })}` });
    await this.layerStep(state, key, createdBy, async (rootfs, stepId) => {
      this.runsExecuted++;
      this.out(` ---> Running in ${stepId.slice(0, 12)}\n`);
      try {
        await runStep({
          rootfs,
          bundle: join(this.dir, `run-${stepId.slice(0, 12)}`),
          argv,
          env,
          ...(s.config.WorkingDir ? { workdir: s.config.WorkingDir } : {}),
          ...(s.config.User ? { user: s.config.User } : {}),
          network,
          cgroupsPath: `${this.cgroupParent()}/${stepId.slice(0, 12)}`,
          hostname: stepId.slice(0, 12),
          onOutput: (c, stream) => (this.opts.onRunOutput ? this.opts.onRunOutput(c, stream) : this.out(c.toString())),
        }, this.deps.sandbox);
      } finally {
        this.out(`Removing intermediate container ${stepId.slice(0, 12)}\n`);
      }
    });
  }

  async copyInstruction(s: StageState, state: ImageState, inst: CopyInstruction, stage: Stage): Promise<void> {
    const plan = expandCopy(s, inst);
    const heredocs = heredocFiles(s, inst);
    const own = { ...(plan.chmod !== undefined ? { chmod: parseChmod(plan.chmod) } : {}) };
    const kind = inst.kind;
    const workdir = s.config.WorkingDir;
    const isHeredoc = (src: string): string | undefined => /^<<-?(["']?)([a-zA-Z_][a-zA-Z0-9_]*)\1$/.exec(src)?.[2];
    const urls = kind === 'ADD' ? plan.sources.filter((x) => /^https?:\/\//.test(x)) : [];
    const local = plan.sources.filter((x) => !isHeredoc(x) && !urls.includes(x));
    const multiple = plan.sources.length > 1;
    if (inst.checksum !== undefined && urls.length === 0) throw invalidParameter('checksum can\'t be specified for non-HTTP(S) sources');
    let sourcesDigest: string;
    let what: string;
    const downloads: Awaited<ReturnType<typeof downloadUrl>>[] = [];
    // --from: another stage, or an image.
    let fromState: ImageState | undefined;
    if (plan.from !== undefined) {
      const idx = this.stageIndex(plan.from, stage.index);
      if (idx !== undefined) fromState = this.results.get(idx)!.state;
      else {
        const img = await this.resolveImage(plan.from);
        const diffIds = img.config.rootfs?.diff_ids ?? [];
        if (diffIds.length) await unpackLayers(this.deps.content, this.deps.snapshotter, img.manifestDoc.layers, diffIds);
        fromState = { diffIds, layers: img.manifestDoc.layers, history: [], base: { architecture: '', os: '' }, cacheKey: `image:${img.id}`, cached: true };
      }
    }
    let contextRels: string[] = [];
    if (fromState) {
      // The stage's files are hashed through a read-only view while the key is computed.
      sourcesDigest = await this.withStageRoot(fromState, async (root) => hashTree(root, await resolveRootSources(root, local, kind)));
      what = `${fromState.cacheKey}`;
    } else {
      contextRels = await resolveContextSources(this.opts.context, local, kind);
      const h = createHash('sha256');
      h.update(await hashContextSources(this.opts.context, contextRels, await this.builder.contextFileDigests()));
      for (const u of urls) {
        const d = await downloadUrl(u, this.dir, inst.checksum);
        downloads.push(d);
        h.update(`url ${u} ${d.digest}\n`);
      }
      for (const [n, c] of heredocs) h.update(`heredoc ${n} ${sha256Digest(c)}\n`);
      sourcesDigest = `sha256:${h.digest('hex')}`;
      what = `${multiple ? 'multi' : 'file'}:${sourcesDigest.slice(7)}`;
    }
    const createdBy = copyCreatedBy(s, kind, what, plan.dest);
    // --chown names are looked up in the stage's files (for --link too, whose copy sees none of them).
    const lookupChown = async (root: string): Promise<{ uid: number; gid: number }> => {
      const rd = (p: string): Promise<string | undefined> => readFile(secureJoin(root, p), 'utf8').catch(() => undefined);
      return resolveChown(plan.chown!, await rd('/etc/passwd'), await rd('/etc/group'));
    };
    const linkChown = inst.link && plan.chown !== undefined ? await this.withStageRoot(state, lookupChown) : undefined;
    const instruction = `${kind} ${JSON.stringify({ sources: plan.sources, dest: plan.dest, chown: linkChown ?? plan.chown, chmod: plan.chmod, from: plan.from })}`;
    // --link: the key leaves out the layers below and the config but for WORKDIR (relative destinations).
    const key = inst.link
      ? cacheKey({ parent: 'link', config: { WorkingDir: workdir ?? '' }, instruction, sources: sourcesDigest })
      : cacheKey({ parent: state.cacheKey, config: s.config, instruction, sources: sourcesDigest });
    await this.layerStep(state, key, createdBy, async (rootfs) => {
      const chown = linkChown ?? (plan.chown !== undefined ? await lookupChown(rootfs) : undefined);
      const o = { ...own, ...(chown ? { chown } : {}) };
      if (fromState) {
        await this.withStageRoot(fromState, async (root) => {
          const rels = await resolveRootSources(root, local, kind);
          await copySources(rootfs, { root, rels }, plan.dest, workdir, o, multiple);
        });
      } else {
        const ctx = this.opts.context;
        if (contextRels.length) await ctx.materialize?.();
        for (const asWritten of contextRels) {
          // In a tar context, symlinked parents are followed inside the context (the index's view), not on the host.
          const rel = ctx.index?.resolve(asWritten, false) ?? asWritten;
          const path = join(ctx.root, rel);
          // Only a regular file is sniffed: a symlink is copied as one, never followed out of the context.
          const regular = kind === 'ADD' && (await lstat(path).catch(() => undefined))?.isFile() === true;
          const ak = regular ? await archiveKind(path).catch(() => undefined) : undefined;
          if (ak) {
            await extractArchive(path, ak, rootfs, destinationFor(plan.dest.endsWith('/') ? plan.dest : `${plan.dest}/`, workdir, true).path, o);
          } else {
            await copySources(rootfs, { root: ctx.root, rels: [rel], ignored: (r) => ctx.matcher.ignores(r) }, plan.dest, workdir, o, multiple);
          }
        }
        for (const d of downloads) await placeDownload(d, rootfs, plan.dest, workdir, o);
        for (const src of plan.sources) {
          const name = isHeredoc(src);
          if (name) await writeHeredoc(rootfs, plan.dest, name, heredocs.get(name) ?? '', workdir, o, multiple);
        }
      }
    }, inst.link);
  }

  /** Mounts a stage's (or image's) top snapshot read-only for fn; scratch is an empty dir. */
  async withStageRoot<T>(st: ImageState, fn: (root: string) => Promise<T>): Promise<T> {
    const { snapshotter } = this.deps;
    if (st.diffIds.length === 0) {
      const empty = join(this.dir, `empty-${randomBytes(4).toString('hex')}`);
      await mkdir(empty, { recursive: true });
      try {
        return await fn(empty);
      } finally {
        await rm(empty, { recursive: true, force: true });
      }
    }
    const chain = chainIds(st.diffIds).at(-1)!;
    const key = `build-view-${this.id}-${randomBytes(4).toString('hex')}`;
    const mounts = await snapshotter.view(key, chain);
    try {
      return await withMount(mounts, join(this.dir, key), fn);
    } finally {
      await snapshotter.remove(key).catch(() => undefined);
    }
  }

  async finish(final: StageResult): Promise<BuildResult> {
    const { state, stage: s } = final;
    const config: ContainerConfig = structuredClone(s.config);
    if (this.opts.labels && Object.keys(this.opts.labels).length) config.Labels = { ...(config.Labels ?? {}), ...this.opts.labels };
    const last = state.history.at(-1)?.created ?? new Date().toISOString();
    const imageConfig: ImageConfig = {
      architecture: state.base.architecture,
      os: state.base.os,
      ...(state.base.variant ? { variant: state.base.variant } : {}),
      created: last,
      ...(s.author ? { author: s.author } : {}),
      config: config as ImageConfig['config'],
      rootfs: { type: 'layers', diff_ids: state.diffIds },
      history: state.history,
    };
    const configBytes = Buffer.from(JSON.stringify(imageConfig));
    const configDesc: Descriptor = { mediaType: MediaType.ociConfig, digest: sha256Digest(configBytes), size: configBytes.length };
    await this.deps.content.put(configBytes, configDesc);
    const manifestDoc: ImageManifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDesc, layers: state.layers };
    const manifestBytes = Buffer.from(JSON.stringify(manifestDoc));
    const manifest: Descriptor = { mediaType: MediaType.ociManifest, digest: sha256Digest(manifestBytes), size: manifestBytes.length };
    await this.deps.content.put(manifestBytes, manifest);
    const tags: string[] = [];
    for (const t of this.opts.tags ?? []) {
      await this.deps.images.put(t, manifest);
      tags.push(t);
    }
    this.out(`Successfully built ${short(configDesc.digest)}\n`);
    for (const t of tags) this.out(`Successfully tagged ${t.includes(':') && !t.includes('@') && t.lastIndexOf(':') > t.lastIndexOf('/') ? t : `${t}:latest`}\n`);
    if (this.opts.iidfile) await atomicWriteFile(this.opts.iidfile, configDesc.digest);
    const unused = [...this.buildArgs.keys()].filter((k) => !this.usedArgs.has(k) && !PREDEFINED_ARGS.has(k) && ![...this.results.values()].some((r) => r.stage.usedBuildArgs.has(k)));
    if (unused.length) this.out(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    return { imageId: configDesc.digest, manifest, tags, runsExecuted: this.runsExecuted, cachedSteps: this.cachedSteps, unusedBuildArgs: unused };
  }
}

