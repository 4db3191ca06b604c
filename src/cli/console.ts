// Where this process's console proxy lives: on the API's own listener in `nubes up`, on the agent's
// `console_listen` in `nubes serve agent`; and what the agent tells the cloud about it (its base URL,
// or why it has none, which the console URL call then says).
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { VirtDriver } from '../compute/agent/virt/driver.ts';
import type { ConsoleProxy } from '../compute/agent/console/proxy.ts';
import { CONSOLE_MOUNT, WEBSOCKIFY_PATH } from '../compute/agent/console/proxy.ts';
import { NOVNC_DIR } from '../compute/agent/console/static-files.ts';

/** noVNC's directory when Debian's novnc package is installed, else null. */
export function novncDir(): string | null {
  return existsSync(join(NOVNC_DIR, 'vnc_lite.html')) ? NOVNC_DIR : null;
}

/** What the agent reports: the proxy's base URL, or null and why (said to whoever asks for a console). */
export function consoleReport(
  driver: VirtDriver,
  files: string | null,
  baseUrl: string | null,
): { url: string | null; note: string | null } {
  if (!driver.capabilities.supportsVncConsole)
    return { url: null, note: "the host's virt driver gives guests no VNC console" };
  if (files === null)
    return {
      url: null,
      note: `noVNC is not installed on the host (${NOVNC_DIR}): apt install novnc`,
    };
  if (baseUrl === null)
    return { url: null, note: "the host's agent has no console listener (set console_listen)" };
  return { url: `${baseUrl}${CONSOLE_MOUNT}`, note: null };
}

/**
 * Mounts the proxy on the API's Fastify server (before it is ready). `proxy` is read per request:
 * it exists once the bus and the host's driver do, which is before the server listens.
 */
export function mountConsole(app: FastifyInstance, proxy: () => ConsoleProxy | undefined): void {
  const handler = (
    request: { raw: import('node:http').IncomingMessage },
    reply: { hijack(): void; raw: import('node:http').ServerResponse },
  ) => {
    reply.hijack();
    const p = proxy();
    if (!p) {
      reply.raw
        .writeHead(503, { 'content-type': 'text/plain' })
        .end('the console proxy is starting\n');
      return;
    }
    if (!p.handleRequest(request.raw, reply.raw)) reply.raw.writeHead(404).end();
  };
  app.get(CONSOLE_MOUNT, handler);
  app.get(`${CONSOLE_MOUNT}/*`, handler);
  // Fastify serves no websockets: upgrades reach the node server, and only the proxy's path is taken.
  app.server.on('upgrade', (req, socket, head) => {
    const p = proxy();
    if (!p || !p.handleUpgrade(req, socket, head)) socket.destroy();
  });
}

/** `nubes serve agent`'s own listener for the console routes. */
export async function listenConsole(
  proxy: ConsoleProxy,
  listen: { host: string; port: number },
): Promise<Server> {
  const server = createServer((req, res) => {
    if (!proxy.handleRequest(req, res))
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end(`only ${CONSOLE_MOUNT}/ and ${WEBSOCKIFY_PATH} here\n`);
  });
  server.on('upgrade', (req, socket, head) => {
    if (!proxy.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
