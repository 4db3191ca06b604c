// Remote consoles: one-time tokens for the console proxy (only their SHA-256 is kept, so a database
// read gives no working token), and where each host's console proxy is reached. Never edit a released
// migration; add the next one.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('console_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('instance_id', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('console_tokens_expires_at')
    .on('console_tokens')
    .column('expires_at')
    .execute();
  // The base URL of the host's console proxy (noVNC pages and websocket), null when it has none;
  // console_note says why not (no VNC in the virt driver, noVNC not installed), for the API's error.
  await db.schema.alterTable('compute_hosts').addColumn('console_url', 'text').execute();
  await db.schema.alterTable('compute_hosts').addColumn('console_note', 'text').execute();
}
