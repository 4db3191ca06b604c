// Test databases: SQLite always, PostgreSQL when NUBES_TEST_DATABASE_URL is set (scripts/test.sh
// starts one), each test cloud in a fresh PostgreSQL database dropped afterwards. The PostgreSQL
// variant also runs the bus on RabbitMQ when NUBES_TEST_AMQP_URL is set.
import { randomUUID } from 'node:crypto';
import pg from 'pg';

export interface ScratchDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

export async function freshPostgres(serverUrl: string): Promise<ScratchDatabase> {
  const name = `nubes_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
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

export interface DatabaseVariant {
  readonly name: string;
  readonly args: string[];
  cleanup(): Promise<void>;
}

export async function databaseVariants(): Promise<DatabaseVariant[]> {
  const out: DatabaseVariant[] = [{ name: 'SQLite', args: [], cleanup: async () => {} }];
  const url = process.env['NUBES_TEST_DATABASE_URL'];
  if (url) {
    const db = await freshPostgres(url);
    // The scale-out parts together: PostgreSQL, and RabbitMQ for the bus when it runs too.
    const amqp = process.env['NUBES_TEST_AMQP_URL'];
    out.push({
      name: amqp ? 'PostgreSQL, RabbitMQ' : 'PostgreSQL',
      args: ['--database', db.url, ...(amqp ? ['--bus', amqp] : [])],
      cleanup: () => db.drop(),
    });
  }
  return out;
}
