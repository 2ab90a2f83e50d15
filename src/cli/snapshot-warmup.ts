// While the startup snapshot is built: runs `ps` and `version` once against an in-process
// stand-in for the daemon, output dropped, so that the code of their whole path (flags,
// connection, HTTP, JSON, tables, templates) is compiled when the heap is saved. A run from
// the snapshot then does fewer instructions (cachegrind: `ps` +57–67 M → +42 M above
// `node -e 0`).

import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cli } from './cli.js';
import { loadCommandModule } from './main.js';

/** The daemon's answers, just enough for the commands to run their usual path. */
const ANSWERS: Record<string, string> = {
  '/_ping': 'OK',
  '/containers/json': '[]',
  '/version': JSON.stringify({ Version: '0.0.0', ApiVersion: '1.47', MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64', KernelVersion: '', Components: [{ Name: 'Engine', Version: '0.0.0', Details: {} }] }),
};

export async function warmUp(): Promise<void> {
  const socket = join(tmpdir(), `berth-snapshot-${process.pid}.sock`);
  const server = createServer((s) => {
    s.once('data', (d: Buffer) => {
      const path = (d.toString('latin1').split(' ')[1] ?? '').replace(/^\/v[\d.]+/, '').replace(/\?.*$/, '');
      const body = ANSWERS[path] ?? '{}';
      s.end(`HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  try {
    for (const [module, fn] of [['ps', 'ps'], ['system', 'version']] as const) {
      const cli = new Cli({ hosts: [`unix://${socket}`] }, fn);
      cli.out = () => undefined;
      cli.err = () => undefined;
      try {
        await (await loadCommandModule(module))[fn]!(cli, []);
      } catch {
        // a warm-up that stops early still compiled what it ran
      }
    }
  } finally {
    await new Promise((r) => server.close(r));
  }
}
