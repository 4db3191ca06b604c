// What `nubes up` does once it has started, so an idle cloud holds only what it uses: the compile
// cache written out, and the garbage of the start collected.
import { flushCompileCache } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Called once `nubes up` is up (nubes-tiny registered). */
export function settleAfterStart(): void {
  // bin/nubes turns Node's compile cache on; writing it now rather than at exit keeps it for the
  // next start even if this process is killed. A later start that finds every module in it never
  // loads Node's TypeScript stripper (17 MiB resident for good).
  flushCompileCache();
  collectGarbage();
}

/**
 * One full garbage collection. V8 collects only when the program allocates, and an idle cloud
 * hardly does: without this the start's garbage stays resident for good (measured: some 8 MiB
 * without nubes-tiny, 24 MiB with its registration, mostly the 1 MiB read buffers of its 26 MB of
 * files). `gc` is reachable only from a context made while --expose-gc is set; the flag is cleared
 * again at once, so no other code sees it.
 */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  try {
    const gc = runInNewContext('gc') as (() => void) | undefined;
    gc?.();
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
