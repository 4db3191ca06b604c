// Test databases and brokers: SQLite always, PostgreSQL when NUBES_TEST_DATABASE_URL is set
// (scripts/test.sh starts one), each test cloud in a fresh PostgreSQL database dropped afterwards;
// RabbitMQ when NUBES_TEST_AMQP_URL is set, each scaled-out cloud on a virtual host of its own, so
// that test files running at once never take each other's messages (every cloud has a conductor).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import pg from 'pg';

export interface ScratchDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

const scratchName = () => `nubes_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;

export async function freshPostgres(serverUrl: string): Promise<ScratchDatabase> {
  const name = scratchName();
  const run = async (sql: string) => {
    const c = new pg.Client({ connectionString: serverUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

function rabbitmqctl(args: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    execFile('rabbitmqctl', ['-q', ...args], { timeout: 60_000 }, (err, _out, stderr) =>
      err ? fail(new Error(`rabbitmqctl ${args.join(' ')}: ${stderr || err.message}`)) : ok(),
    );
  });
}

/**
 * A fresh virtual host on the broker of `serverUrl` (its user may use it), deleted by drop().
 * rabbitmqctl runs where the broker does, as root or the rabbitmq user, as scripts/test.sh does.
 */
export async function freshVhost(serverUrl: string): Promise<ScratchDatabase> {
  const name = scratchName();
  const u = new URL(serverUrl);
  await rabbitmqctl(['add_vhost', name]);
  try {
    await rabbitmqctl([
      'set_permissions',
      '-p',
      name,
      decodeURIComponent(u.username) || 'guest',
      '.*',
      '.*',
      '.*',
    ]);
  } catch (e) {
    await rabbitmqctl(['delete_vhost', name]).catch(() => undefined);
    throw e;
  }
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => rabbitmqctl(['delete_vhost', name]) };
}

/** PostgreSQL for a scaled-out cloud, with RabbitMQ (a vhost of its own) when `amqpUrl` is given. */
export async function freshBackends(
  pgUrl: string,
  amqpUrl: string,
): Promise<{ db: ScratchDatabase; bus: ScratchDatabase; drop(): Promise<void> }> {
  const [db, bus] = await Promise.all([freshPostgres(pgUrl), freshVhost(amqpUrl)]);
  return {
    db,
    bus,
    drop: async () => {
      await Promise.all([db.drop(), bus.drop()]);
    },
  };
}

export interface DatabaseVariant {
  readonly name: string;
  /** Why this variant cannot run here, or false. */
  readonly skip: string | false;
  /** The `nubes up` arguments that put it on these databases. */
  readonly args: string[];
  cleanup(): Promise<void>;
}

export const SQLITE: DatabaseVariant = {
  name: 'SQLite',
  skip: false,
  args: [],
  cleanup: async () => {},
};

/** PostgreSQL (a fresh database), with the bus on RabbitMQ (a fresh vhost) when it runs too. */
export async function postgresVariant(): Promise<DatabaseVariant> {
  const url = process.env['NUBES_TEST_DATABASE_URL'];
  const amqp = process.env['NUBES_TEST_AMQP_URL'];
  const name = amqp ? 'PostgreSQL, RabbitMQ' : 'PostgreSQL';
  if (!url) {
    const skip = 'needs NUBES_TEST_DATABASE_URL (scripts/test.sh starts PostgreSQL)';
    return { name, skip, args: [], cleanup: async () => {} };
  }
  const db = await freshPostgres(url);
  const vhost = amqp ? await freshVhost(amqp) : undefined;
  return {
    name,
    skip: false,
    args: ['--database', db.url, ...(vhost ? ['--bus', vhost.url] : [])],
    cleanup: async () => {
      await Promise.all([db.drop(), vhost?.drop()]);
    },
  };
}

/** SQLite, and PostgreSQL when NUBES_TEST_DATABASE_URL is set, for a file that runs both in turn. */
export async function databaseVariants(): Promise<DatabaseVariant[]> {
  const pg = await postgresVariant();
  return pg.skip ? [SQLITE] : [SQLITE, pg];
}
