// One timed Berth pull, run as its own process by bench/image-pull.ts (so that, like
// skopeo and podman, it pays its start-up): pull <ref> into an empty store under <root>,
// unpacking into overlay snapshots (vfs when overlay is unavailable) as layers download.
//   node dist/bench/image/berth-pull.js <ref> <root> [overlay|vfs] [thread]
// `thread`: the layers download on a worker thread (PullOptions.downloadThread).
// The layers are committed unsynced, as berthd's pull commits them (it syncs them right
// after its answer; this process leaves that to the next one that opens the store).

import { ContentStore } from '../../src/image/content/store.js';
import { pullImage } from '../../src/image/pull.js';
import { parseNormalizedReference } from '../../src/image/reference.js';
import { RegistryClient } from '../../src/image/registry/client.js';
import { OverlaySnapshotter, VfsSnapshotter } from '../../src/image/snapshot/snapshotter.js';

const [ref, root, driver = 'overlay', mode] = process.argv.slice(2);
if (!ref || !root) {
  process.stderr.write('usage: berth-pull <ref> <root>\n');
  process.exit(2);
}
const snapshotter = driver === 'vfs' ? new VfsSnapshotter(root) : new OverlaySnapshotter(root);
const pulled = await pullImage(new RegistryClient(), new ContentStore(root), parseNormalizedReference(ref), { unpack: { snapshotter, durable: false }, downloadThread: mode === 'thread' });
process.stdout.write(`${JSON.stringify({ driver: snapshotter.driver, chainId: pulled.chainId })}\n`);
