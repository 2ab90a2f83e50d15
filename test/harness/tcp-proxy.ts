import { createServer, connect, type Socket } from 'node:net';

// A TCP proxy on 127.0.0.1 in front of a test server (a registry), recording what clients
// send through it, optionally slowed to about `bytesPerMs` kB/s towards the client.

export interface TcpProxy {
  /** host:port to connect to instead of the target. */
  host: string;
  /** Everything clients sent, one entry per read (HTTP request heads arrive whole). */
  requests: string[];
  stop(): Promise<void>;
}

export async function startTcpProxy(target: string, opts: { bytesPerMs?: number } = {}): Promise<TcpProxy> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const [h, p] = target.split(':') as [string, string];
  const server = createServer((down) => {
    sockets.add(down);
    const up = connect(Number(p), h);
    sockets.add(up);
    down.on('data', (d: Buffer) => {
      requests.push(d.toString('latin1'));
      up.write(d);
    });
    up.on('data', (d: Buffer) => {
      if (opts.bytesPerMs === undefined) {
        down.write(d);
        return;
      }
      up.pause();
      setTimeout(() => {
        if (!down.destroyed) down.write(d);
        up.resume();
      }, Math.ceil(d.length / opts.bytesPerMs));
    });
    const close = (): void => {
      down.destroy();
      up.destroy();
    };
    for (const s of [down, up]) {
      s.on('close', close);
      s.on('error', close);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    requests,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
