// The console proxy of one host (Nova's novncproxy): noVNC's files under /console/, and the
// websocket at /console/websockify?token=... piped, binary frame by frame, to the guest's VNC
// server on its UNIX socket. The token is checked at the conductor before each upgrade is accepted;
// it reconnects until it expires, as Nova's. Mounted on any node:http server (the API's in
// `nubes up`, its own listener in `nubes serve agent`). Tokens are never logged (log-redact.ts).
import { connect, type Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { Logger } from '../../../platform/log.ts';
import { redactUrl } from '../../../platform/log-redact.ts';
import type { Bus } from '../../../platform/bus/bus.ts';
import { conductorClient } from '../protocol.ts';
import { serveStatic } from './static-files.ts';

export const CONSOLE_MOUNT = '/console';
export const WEBSOCKIFY_PATH = `${CONSOLE_MOUNT}/websockify`;

/** The conductor's answer to a presented token. */
export type TokenCheck = { readonly instanceId: string } | { readonly refused: string };

export interface ConsoleProxyDeps {
  readonly log: Logger;
  /** Checks the token at the conductor for this host. */
  readonly checkToken: (token: string) => Promise<TokenCheck>;
  /** The guest's VNC socket (the virt driver's consoleSocket), null when it has none. */
  readonly socketOf: (instanceId: string) => string | null;
  /** noVNC's directory; null serves no pages (the websocket still works). */
  readonly filesDir: string | null;
}

export interface ConsoleProxy {
  /** Answers a plain HTTP request under /console/; false when the path is not the proxy's. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** Takes an upgrade request for /console/websockify; false when the path is not the proxy's. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Closes every open console connection. */
  close(): void;
}

/** Token checks through the conductor on the bus, for the proxy of `host`. */
export function busTokenCheck(bus: Bus, host: string): (token: string) => Promise<TokenCheck> {
  const conductor = conductorClient(bus);
  return async (token) => {
    const r = await conductor.call('console.consume', { token, host });
    return 'instance_id' in r ? { instanceId: r.instance_id } : { refused: r.refused };
  };
}

/** Whether an Origin header names the host the request came to (host and port). */
function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** Answers an upgrade request with a plain HTTP error and closes it. */
function refuse(socket: Duplex, status: number, reason: string, body: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body) + 1}\r\n\r\n${body}\n`,
  );
}

export function createConsoleProxy(deps: ConsoleProxyDeps): ConsoleProxy {
  const { log } = deps;
  // noVNC offers the 'binary' subprotocol in some versions and none in others; accept either.
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 1 << 20,
    handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false),
  });
  const open = new Set<Socket>();
  /** Refuses an upgrade, saying why in the log (with the URL's token redacted). */
  const refused = (
    req: IncomingMessage,
    socket: Duplex,
    status: number,
    reason: string,
    text: string,
  ): void => {
    log.info({ url: redactUrl(req.url ?? ''), status, why: text }, 'console connection refused');
    refuse(socket, status, reason, text);
  };

  async function upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    token: string,
  ): Promise<void> {
    let check: TokenCheck;
    try {
      check = await deps.checkToken(token);
    } catch (err) {
      log.warn({ err }, 'console token could not be checked');
      refused(
        req,
        socket,
        503,
        'Service Unavailable',
        'the console token could not be checked; try again',
      );
      return;
    }
    if ('refused' in check) {
      refused(
        req,
        socket,
        403,
        'Forbidden',
        'the console token is not valid (expired, unknown, or its server is gone): ask for a new console URL',
      );
      return;
    }
    const path = deps.socketOf(check.instanceId);
    if (path === null) {
      refused(req, socket, 404, 'Not Found', 'this host has no console for that server');
      return;
    }
    const vnc = connect(path);
    const unreachable = (err: Error) => {
      log.warn(
        { instance: check.instanceId, err },
        "console: the guest's VNC server cannot be reached",
      );
      refused(
        req,
        socket,
        502,
        'Bad Gateway',
        "the server's VNC console cannot be reached (is it running?)",
      );
    };
    vnc.once('error', unreachable);
    vnc.once('connect', () => {
      // From here the pipelines own errors; the socket now speaks websocket, not HTTP.
      vnc.off('error', unreachable);
      wss.handleUpgrade(req, socket, head, (ws) => {
        open.add(vnc);
        log.info({ instance: check.instanceId }, 'console connected');
        const stream = createWebSocketStream(ws);
        // Either side ending ends both; one pipeline per direction so back-pressure holds each way.
        const done = () => {
          open.delete(vnc);
          vnc.destroy();
          stream.destroy();
        };
        pipeline(stream, vnc, done);
        pipeline(vnc, stream, done);
      });
    });
  }

  return {
    handleRequest(req, res) {
      const path = (req.url ?? '').replace(/[?#].*$/, '');
      if (path !== CONSOLE_MOUNT && !path.startsWith(`${CONSOLE_MOUNT}/`)) return false;
      if (path === CONSOLE_MOUNT) {
        res.writeHead(301, { location: `${CONSOLE_MOUNT}/` }).end();
        return true;
      }
      if (deps.filesDir === null) {
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end('noVNC is not installed on this host: apt install novnc\n');
        return true;
      }
      serveStatic(deps.filesDir, path.slice(CONSOLE_MOUNT.length + 1), req, res);
      return true;
    },
    handleUpgrade(req, socket, head) {
      // A client gone mid-handshake must not become an unhandled 'error'.
      socket.on('error', () => socket.destroy());
      const url = new URL(req.url ?? '/', 'http://proxy');
      if (url.pathname !== WEBSOCKIFY_PATH) return false;
      // A browser always names the page's origin: a page from another site must not open the
      // console with a token it got hold of (cross-site websocket hijacking; Nova's proxy checks too).
      const origin = req.headers.origin;
      if (origin !== undefined && !sameHost(origin, req.headers.host)) {
        refused(req, socket, 403, 'Forbidden', "the page's origin is not this console proxy");
        return true;
      }
      const token = url.searchParams.get('token');
      if (token === null || token === '' || token.length > 200) {
        refused(req, socket, 400, 'Bad Request', 'a console token is required: ?token=...');
        return true;
      }
      upgrade(req, socket, head, token).catch((err: unknown) => {
        log.error({ err }, 'console upgrade failed');
        socket.destroy();
      });
      return true;
    },
    close() {
      for (const s of open) s.destroy();
      open.clear();
      wss.close();
    },
  };
}
