// The filters of GET /containers/json as `docker ps` uses them, with dockerd's semantics
// (moby daemon/list.go):
//  - id, name: the value equal to the ID / name, or a regular expression found in it (an
//    invalid expression matches nothing); a name matches with or without its leading `/`;
//  - label: `key` or `key=value`; every label filter must match (AND), unlike other keys;
//  - status (one of the states), exited (an exit code of a stopped container), health
//    (starting, healthy, unhealthy, none), isolation (`default` on Linux), is-task (true or
//    false: Berth has no swarm tasks);
//  - ancestor (an image reference or id), before and since (another container's creation);
//  - volume (a mount's volume name, bind source or destination), network (a connected
//    network's name or ID prefix);
//  - publish, expose: `port[/proto]` or `start-end[/proto]`, tcp by default, against the
//    published (host-bound) or exposed ports.
// Values of one key OR; keys AND. Bad values are 400s in dockerd's words.

import { invalidParameter } from '../errors.js';
import type { Filters } from '../api/body.js';
import type { ContainerRecord } from './record.js';

const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
const HEALTH = ['starting', 'healthy', 'unhealthy', 'none'];

export interface FilterContext {
  /** Resolves a container reference (before/since) to its record. */
  lookup: (ref: string) => ContainerRecord;
  /** True when the image reference names the record's image (ancestor). */
  imageMatches: (rec: ContainerRecord, ref: string) => boolean;
  /** The container's mounts as inspect shows them (volume filter). */
  mounts?: (rec: ContainerRecord) => { Name?: string; Source: string; Destination: string }[];
  /** The networks the container is connected to (network filter). */
  networks?: (rec: ContainerRecord) => { name: string; id: string }[];
  /** The container's ports bound on the host, as `80/tcp` (publish filter). */
  publishedPorts?: (rec: ContainerRecord) => string[];
}

/** dockerd's Args.Match: equal, or a regular expression found in the value. */
function matches(patterns: RegExp[], values: string[], value: string): boolean {
  return values.includes(value) || patterns.some((re) => re.test(value));
}

function compile(values: string[]): RegExp[] {
  const out: RegExp[] = [];
  for (const v of values) {
    try {
      out.push(new RegExp(v));
    } catch {
      // dockerd skips a value that is not a valid expression
    }
  }
  return out;
}

/** `80`, `80/udp`, `8000-8010/tcp` → the set of `port/proto` keys; 400 otherwise. */
export function portFilterSet(key: string, values: string[]): Set<string> {
  const out = new Set<string>();
  for (const value of values) {
    if (value.includes(':')) throw invalidParameter(`filter for '${key}' should not contain ':': ${value}`);
    const [port = '', proto = 'tcp'] = value.split('/');
    const m = /^(\d+)(?:-(\d+))?$/.exec(port);
    const start = m ? Number(m[1]) : NaN;
    const end = m?.[2] !== undefined ? Number(m[2]) : start;
    if (!m || start > 65535 || end > 65535 || end < start || proto === '') {
      throw invalidParameter(`error while looking up for ${key} ${value}: invalid port range '${port}'`);
    }
    for (let p = start; p <= end; p++) out.add(`${p}/${proto.toLowerCase()}`);
  }
  return out;
}

function defaultMounts(rec: ContainerRecord): { Name?: string; Source: string; Destination: string }[] {
  const out: { Name?: string; Source: string; Destination: string }[] = [];
  for (const b of rec.hostConfig.Binds ?? []) {
    const [src = '', dst = ''] = b.split(':');
    out.push({ Source: src, Destination: dst });
  }
  for (const m of rec.hostConfig.Mounts ?? []) out.push({ Source: m.Source ?? '', Destination: m.Target ?? '' });
  return out;
}

function defaultNetworks(rec: ContainerRecord): { name: string; id: string }[] {
  const mode = rec.hostConfig.NetworkMode || 'default';
  return [{ name: mode === 'default' ? 'bridge' : mode, id: '' }];
}

/** A predicate for the filters; throws 400 for bad values, as dockerd does. */
export function containerFilter(f: Filters, ctx: FilterContext): (rec: ContainerRecord) => boolean {
  for (const s of f.status ?? []) {
    if (!STATUSES.includes(s)) throw invalidParameter(`invalid filter 'status=${s}'`);
  }
  const exited = (f.exited ?? []).map((v) => {
    if (!/^-?\d+$/.test(v)) throw invalidParameter(`invalid filter 'exited=${v}'`);
    return Number(v);
  });
  for (const h of f.health ?? []) {
    if (!HEALTH.includes(h)) throw invalidParameter(`Unrecognised filter value for health: ${h}`);
  }
  let isTask: boolean | undefined;
  if (f['is-task']?.length) {
    const v = f['is-task'];
    if (v.length === 1 && v[0] === 'true') isTask = true;
    else if (v.length === 1 && v[0] === 'false') isTask = false;
    else throw invalidParameter(`invalid filter 'is-task=${v.join(',')}'`);
  }
  const publish = portFilterSet('publish', f.publish ?? []);
  const expose = portFilterSet('expose', f.expose ?? []);
  const idValues = f.id ?? [];
  const idRes = compile(idValues);
  const nameValues = f.name ?? [];
  const nameRes = compile(nameValues);
  const isolationValues = f.isolation ?? [];
  const isolationRes = compile(isolationValues);
  const before = f.before?.length ? ctx.lookup(f.before[0]!) : undefined;
  const since = f.since?.length ? ctx.lookup(f.since[0]!) : undefined;
  const mounts = ctx.mounts ?? defaultMounts;
  const networks = ctx.networks ?? defaultNetworks;

  return (rec) => {
    const any = (key: string, pred: (v: string) => boolean): boolean => {
      const vs = f[key];
      return !vs || vs.length === 0 || vs.some(pred);
    };
    const labels = rec.config.Labels ?? {};
    if (idValues.length && !matches(idRes, idValues, rec.id)) return false;
    if (nameValues.length && !matches(nameRes, nameValues, rec.name) && !matches(nameRes, nameValues, rec.name.replace(/^\//, ''))) return false;
    for (const v of f.label ?? []) {
      const i = v.indexOf('=');
      if (i < 0 ? !(v in labels) : labels[v.slice(0, i)] !== v.slice(i + 1)) return false;
    }
    const isolation = (rec.hostConfig.Isolation || 'default').toLowerCase();
    if (isolationValues.length && !matches(isolationRes, isolationValues, isolation)) return false;
    if (isTask === true) return false; // no container is a swarm task
    if (!any('status', (v) => v === rec.state.status)) return false;
    if (exited.length && !(rec.state.status === 'exited' && exited.includes(rec.state.exitCode))) return false;
    if (!any('ancestor', (v) => ctx.imageMatches(rec, v))) return false;
    // As times: RFC 3339 strings without trailing zeros do not sort as text (".25Z" > ".251Z").
    if (before && !(Date.parse(rec.created) < Date.parse(before.created))) return false;
    if (since && !(Date.parse(rec.created) > Date.parse(since.created))) return false;
    if (!any('health', (v) => (rec.state.health?.Status ?? 'none') === v)) return false;
    if (f.network?.length) {
      const nets = networks(rec);
      if (!f.network.some((v) => nets.some((n) => n.name === v || (n.id !== '' && n.id.startsWith(v))))) return false;
    }
    if (f.volume?.length) {
      const ms = mounts(rec);
      if (!f.volume.some((v) => ms.some((m) => m.Destination === v || (m.Name ? m.Name === v : m.Source === v)))) return false;
    }
    if (expose.size && !Object.keys(rec.config.ExposedPorts ?? {}).some((p) => expose.has(p.includes('/') ? p : `${p}/tcp`))) return false;
    if (publish.size && !(ctx.publishedPorts?.(rec) ?? []).some((p) => publish.has(p))) return false;
    return true;
  };
}
