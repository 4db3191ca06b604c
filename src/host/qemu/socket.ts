// Connecting to a UNIX socket a QEMU is about to create (its monitor, or the socket an incoming
// migration listens on): QEMU makes it some milliseconds after it starts, so connects are retried.
import { createConnection, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Connects to `path`, retrying every 20 ms until `timeoutMs` has passed; then throws the last error. */
export async function connectWhenListening(path: string, timeoutMs: number): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const attempt = await new Promise<Socket | Error>((ok) => {
      const s = createConnection(path);
      s.once('connect', () => {
        s.removeAllListeners('error');
        ok(s);
      });
      s.once('error', (e) => ok(e));
    });
    if (!(attempt instanceof Error)) return attempt;
    if (Date.now() > deadline) throw attempt;
    await sleep(20);
  }
}
