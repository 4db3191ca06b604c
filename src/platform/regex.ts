// Regular expressions from requests (Nova's server name filter), compiled for V8's linear-time
// engine: a pattern such as (a+)+$ cannot stall the process however long the input. Patterns that
// need backtracking (back-references, lookaround) are refused.
import { setFlagsFromString } from 'node:v8';

// The engine is behind a flag; setting it before the first 'l' pattern is compiled is enough.
setFlagsFromString('--enable-experimental-regexp-engine');

/** The pattern compiled for linear-time matching, or the reason it cannot be. */
export function linearRegExp(pattern: string): RegExp | Error {
  try {
    return new RegExp(pattern, 'l');
  } catch (e) {
    return e as Error;
  }
}
