// A round-robin TCP balancer on loopback, as an operator puts in front of api replicas: each new
// client connection goes to the next backend. Tests give every replica its address as public_url.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface Balancer {
  readonly url: string;
  readonly port: number;
  setBackends(urls: readonly string[]): void;
  close(): Promise<void>;
}

export async function startBalancer(port: number): Promise<Balancer> {
  let backends: { host: string; port: number }[] = [];
  let next = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    const b = backends[next++ % Math.max(backends.length, 1)];
    if (!b) {
      client.destroy();
      return;
    }
    const upstream = createConnection(b);
    open.add(upstream);
    upstream.on('close', () => open.delete(upstream));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    setBackends(urls) {
      backends = urls.map((u) => {
        const x = new URL(u);
        return { host: x.hostname, port: Number(x.port) };
      });
    },
    close: () =>
      new Promise((ok) => {
        for (const s of open) s.destroy();
        server.close(() => ok());
      }),
  };
}
