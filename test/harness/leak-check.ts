// The leak check that ends the test suite: lists everything of Berth's still on this machine
// (mounts, network namespaces, links, cgroups, nftables tables, processes, temp dirs) and
// fails when there is anything. It only reports; it never deletes.
//
//   node dist/test/harness/leak-check.js      exit 0 when clean, 1 with a list otherwise

import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cgroupHierarchies } from './cgroups.js';
import { TMP_PREFIX } from './tmp.js';

export interface Leak {
  kind: 'mount' | 'netns' | 'link' | 'cgroup' | 'nft table' | 'process' | 'temp dir' | 'unchecked';
  what: string;
}

const BERTH = /berth/i;
const BERTH_PROCESS_NAMES = new Set(['berthd', 'berth-monitor', 'berth-spawner', 'berth-init', 'berth-runc']);

function tool(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return undefined;
  }
}

function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** /proc/self/mountinfo fields, with the octal escapes of paths decoded. */
interface MountInfo {
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

function mountInfo(): MountInfo[] {
  return readOr('/proc/self/mountinfo')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pre = '', post = ''] = line.split(' - ');
      const f = pre.split(' ');
      const g = post.split(' ');
      return { root: unescape(f[3] ?? ''), mountPoint: unescape(f[4] ?? ''), fsType: g[0] ?? '', source: unescape(g[1] ?? '') };
    });
}

function leakedMounts(): Leak[] {
  return mountInfo()
    .filter((m) => BERTH.test(m.mountPoint) || BERTH.test(m.source) || BERTH.test(m.root))
    .map((m) => ({ kind: 'mount', what: `${m.mountPoint} (${m.fsType} from ${m.source}${m.root !== '/' ? `, root ${m.root}` : ''})` }));
}

function leakedNetns(): Leak[] {
  const out = tool('ip', ['netns', 'list']);
  if (out === undefined) return [{ kind: 'unchecked', what: 'network namespaces: `ip netns list` failed' }];
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => /^berth/i.test(n))
    .map((n) => ({ kind: 'netns', what: n }));
}

function leakedLinks(): Leak[] {
  const out = tool('ip', ['-o', 'link']);
  if (out === undefined) return [{ kind: 'unchecked', what: 'links: `ip -o link` failed' }];
  return out
    .split('\n')
    .map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '')
    .filter((n) => /^berth/i.test(n))
    .map((n) => ({ kind: 'link', what: n }));
}

function findDirs(dir: string, depth: number, match: (name: string) => boolean, out: string[]): void {
  if (depth === 0) return;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const p = join(dir, e.name);
    if (match(e.name)) out.push(p);
    findDirs(p, depth - 1, match, out);
  }
}

function leakedCgroups(): Leak[] {
  const found: string[] = [];
  for (const h of cgroupHierarchies()) findDirs(h.mountPoint, 4, (n) => BERTH.test(n), found);
  return [...new Set(found)].map((p) => ({ kind: 'cgroup', what: p }));
}

function leakedNftTables(): Leak[] {
  const out = tool('nft', ['list', 'tables']);
  if (out === undefined) return [{ kind: 'unchecked', what: 'nftables: `nft list tables` failed' }];
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((w) => w[0] === 'table' && /^berth/i.test(w[w.length - 1] ?? ''))
    .map((w) => ({ kind: 'nft table', what: w.slice(1).join(' ') }));
}

/** This process and its ancestors: the test runner itself is not a leak. */
function selfAndAncestors(): Set<number> {
  const pids = new Set<number>();
  let pid = process.pid;
  while (pid > 0 && !pids.has(pid)) {
    pids.add(pid);
    const stat = readOr(`/proc/${pid}/stat`);
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    pid = Number.isFinite(ppid) ? ppid : 0;
  }
  return pids;
}

function linkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

function leakedProcesses(): Leak[] {
  const mine = selfAndAncestors();
  const leaks: Leak[] = [];
  const tempMark = `/${TMP_PREFIX}`;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || mine.has(pid)) continue;
    const argv = readOr(`/proc/${pid}/cmdline`).split('\0').filter(Boolean);
    const comm = readOr(`/proc/${pid}/comm`).trim();
    if (argv.length === 0 && comm === '') continue; // gone meanwhile
    const names = [comm, ...argv.slice(0, 2).map((a) => basename(a))];
    const cwd = linkOr(`/proc/${pid}/cwd`);
    const exe = linkOr(`/proc/${pid}/exe`);
    const why: string[] = [];
    if (names.some((n) => BERTH_PROCESS_NAMES.has(n))) why.push('berth program');
    if ([cwd, exe, ...argv].some((s) => s.includes(tempMark))) why.push('runs from a berth-test- temp dir');
    const cgroups = readOr(`/proc/${pid}/cgroup`);
    if (BERTH.test(cgroups)) why.push('in a berth cgroup');
    if (why.length > 0) {
      leaks.push({ kind: 'process', what: `${pid} ${argv.join(' ') || `[${comm}]`} (${why.join(', ')})` });
    }
  }
  return leaks;
}

function leakedTempDirs(): Leak[] {
  const leaks: Leak[] = [];
  for (const dir of new Set(['/tmp', tmpdir()])) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) if (n.startsWith(TMP_PREFIX)) leaks.push({ kind: 'temp dir', what: join(dir, n) });
  }
  return leaks;
}

/** Everything of Berth's left on this machine. */
export function findLeaks(): Leak[] {
  return [
    ...leakedMounts(),
    ...leakedNetns(),
    ...leakedLinks(),
    ...leakedCgroups(),
    ...leakedNftTables(),
    ...leakedProcesses(),
    ...leakedTempDirs(),
  ];
}

async function main(): Promise<void> {
  // A process killed just before the check may still be exiting: look again after a short
  // grace period, and report only what is still there.
  let all = findLeaks();
  if (all.some((l) => l.kind !== 'unchecked')) {
    await new Promise((r) => setTimeout(r, 2000));
    all = findLeaks();
  }
  const unchecked = all.filter((l) => l.kind === 'unchecked');
  const leaks = all.filter((l) => l.kind !== 'unchecked');
  for (const u of unchecked) console.log(`leak check: could not check ${u.what}`);
  if (leaks.length === 0) {
    console.log('ok - leak check: nothing of Berth\'s left on this machine');
    return;
  }
  console.log(`not ok - leak check: ${leaks.length} thing(s) of Berth's left on this machine:`);
  for (const l of leaks) console.log(`  ${l.kind}: ${l.what}`);
  process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
