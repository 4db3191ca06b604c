// Guest memory to a file and back, for suspend and resume. QEMU 7 cannot migrate to a file
// itself, and an `exec:` URI would hand a shell string to QEMU, so the driver plays the other end:
// it listens on a UNIX socket in the instance directory, QEMU migrates into it, and the bytes go
// to the state file (written under a temporary name, renamed only once complete). Resume is the
// mirror image: a QEMU started with `-incoming defer` listens on a socket and the driver connects
// and sends the file.
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { connectWhenListening } from '../../../../host/qemu/socket.ts';

export interface StreamEnd {
  /** The URI to hand QEMU (`unix:<socket>`). */
  readonly uri: string;
  /** Resolves when the one connection has been fully served; rejects if it failed. */
  readonly done: Promise<void>;
  close(): Promise<void>;
}

async function listenOnce(
  socketPath: string,
  onConnection: (s: Socket) => Promise<void>,
): Promise<StreamEnd> {
  await rm(socketPath, { force: true });
  let settle!: { ok: () => void; fail: (e: Error) => void };
  const done = new Promise<void>((ok, fail) => {
    settle = { ok, fail };
  });
  done.catch(() => {});
  const server: Server = createServer({ allowHalfOpen: false }, (socket) => {
    server.close();
    onConnection(socket).then(settle.ok, settle.fail);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(socketPath, () => {
      server.off('error', fail);
      ok();
    });
  });
  return {
    uri: `unix:${socketPath}`,
    done,
    async close() {
      server.close();
      await rm(socketPath, { force: true });
    },
  };
}

/** Receives one stream on `socketPath` into `file`. */
export function receiveToFile(socketPath: string, file: string): Promise<StreamEnd> {
  const partial = `${file}.partial`;
  return listenOnce(socketPath, async (socket) => {
    await pipeline(socket, createWriteStream(partial, { mode: 0o600 }));
    await rename(partial, file);
  });
}

/** Connects to the socket an incoming QEMU listens on (waiting up to `timeoutMs` for it) and sends `file`. */
export async function sendFileTo(
  socketPath: string,
  file: string,
  timeoutMs = 10_000,
): Promise<void> {
  const socket = await connectWhenListening(socketPath, timeoutMs).catch((e: unknown) => {
    throw new Error(
      `QEMU never listened on ${socketPath} for the incoming state: ${(e as Error).message}`,
    );
  });
  await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), socket);
}
