// `nubes admin ...`: operator maintenance commands that run against the configured database.
import type { Config } from './config.ts';
import { openDatabase } from '../platform/db/database.ts';
import type { CloudTables } from './tables.ts';
import { Policy } from '../platform/policy/policy.ts';
import { createIdentity } from '../identity/index.ts';

export async function runRotateKeys(config: Config): Promise<number> {
  const database = await openDatabase<CloudTables>(config.database);
  try {
    const identity = createIdentity({
      db: database.handle,
      policy: new Policy(),
      config: config.identity,
    });
    const r = await identity.tokens.rotateKeys();
    process.stdout.write(
      `token keys rotated: primary is now key ${r.primary}; keys kept: ${r.keys.join(', ')}. API replicas pick it up within a minute.\n`,
    );
    return 0;
  } finally {
    await database.close();
  }
}
