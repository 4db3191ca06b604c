// Builds an in-process cloud for integration tests: SQLite in memory (or PostgreSQL when
// NUBES_TEST_DATABASE_URL is set, in a fresh database per cloud), cheap password hashing, inject().
import { freshPostgres } from './databases.ts';
import { loadConfig, type Config } from '../../src/cli/config.ts';
import { buildCloud, type Cloud } from '../../src/cli/cloud.ts';
import { silentLogger, type Logger } from '../../src/platform/log.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// One scratch data dir per test process (image data lives there), removed when the process exits.
const scratch = mkdtempSync(join(tmpdir(), 'nubes-test-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

export const ADMIN_PASSWORD = 'admin-test-password';

/** The configuration of an in-process test cloud on a database: a scratch data dir, cheap hashing. */
export function testConfig(database: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    flags: {},
    configFile: '/dev/null',
    env: {
      NUBES_DATA_DIR: mkdtempSync(join(scratch, 'cloud-')),
      NUBES_DATABASE: database,
      NUBES_PUBLIC_URL: 'http://nubes.test',
      NUBES_ARGON2_MEMORY_KIB: '1024',
      NUBES_ARGON2_PASSES: '1',
      NUBES_ARGON2_PARALLELISM: '1',
      ...env,
    },
  });
}

export interface TestCloud extends Cloud {
  readonly dialect: string;
}

/** `log`: where the cloud logs (default: nowhere), for tests of its log lines. */
export async function startTestCloud(
  env: Record<string, string> = {},
  log: Logger = silentLogger(),
): Promise<TestCloud> {
  const pgUrl = process.env['NUBES_TEST_DATABASE_URL'];
  const pgDb = pgUrl ? await freshPostgres(pgUrl) : undefined;
  const config = testConfig(pgDb?.url ?? 'sqlite::memory:', env);
  let cloud: Cloud;
  try {
    cloud = await buildCloud(config, log, { adminPassword: ADMIN_PASSWORD });
  } catch (e) {
    await pgDb?.drop();
    throw e;
  }
  return {
    ...cloud,
    dialect: pgDb ? 'postgres' : 'sqlite',
    async close() {
      await cloud.close();
      await pgDb?.drop();
    },
  };
}
