// What servers need beyond 0003: the rest of Nova's instance fields (description, reservation and
// launch index of a multi-create, config drive, access IPs, lock reason, the scheduling request
// kept for retries, a resize in progress), build failures per host, server groups, the instance
// action log, and host aggregates. Never edit a released migration; add the next one.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // SQLite adds one column per ALTER TABLE.
  const add = (col: string, type: 'text' | 'integer' | 'bigint', dflt?: string | number) =>
    db.schema
      .alterTable('instances')
      .addColumn(col, type, (c) => (dflt === undefined ? c : c.notNull().defaultTo(dflt)))
      .execute();
  await add('description', 'text');
  await add('reservation_id', 'text', '');
  await add('launch_index', 'integer', 0);
  await add('config_drive', 'integer', 0);
  await add('access_ipv4', 'text');
  await add('access_ipv6', 'text');
  await add('locked_reason', 'text');
  await add('kernel_id', 'text');
  await add('ramdisk_id', 'text');
  await add('security_groups', 'text', '[]');
  // The networks asked for at create ("none", "auto" or a list), for the network service's seam.
  await add('requested_networks', 'text', '"auto"');
  // The request the scheduler needs again on a retry, resize or unshelve (hints, group, tried hosts).
  await add('request_spec', 'text', '{}');
  // A resize or migration in progress: source and destination host, old and new flavor.
  await add('migration', 'text');
  await add('terminated_at', 'bigint');
  // The flavor's vCPUs and RAM again, as columns, so quota usage is one SUM (kept with the flavor on resize).
  await add('vcpus', 'integer', 0);
  await add('memory_mb', 'integer', 0);
  await db.schema.createIndex('instances_updated').on('instances').column('updated_at').execute();
  await db.schema
    .createIndex('instances_state')
    .on('instances')
    .columns(['vm_state', 'task_state'])
    .execute();

  // One row per quota scope (a project; `user:<id>` for key pairs), locked by a create for its quota
  // check and insert, so creates of one scope through any number of api replicas go one at a time.
  await db.schema
    .createTable('compute_project_locks')
    .addColumn('project_id', 'text', (c) => c.primaryKey())
    .execute();

  await db.schema
    .alterTable('compute_hosts')
    .addColumn('failed_builds', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  await db.schema
    .createTable('server_groups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('policy', 'text', (c) => c.notNull())
    .addColumn('rules', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('server_groups_project')
    .on('server_groups')
    .column('project_id')
    .execute();

  await db.schema
    .createTable('server_group_members')
    .addColumn('group_id', 'text', (c) =>
      c.notNull().references('server_groups.id').onDelete('cascade'),
    )
    .addColumn('instance_id', 'text', (c) => c.notNull().unique())
    .addPrimaryKeyConstraint('server_group_members_pk', ['group_id', 'instance_id'])
    .execute();

  await db.schema
    .createTable('instance_actions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('instance_id', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('message', 'text')
    .addColumn('start_time', 'bigint', (c) => c.notNull())
    .addColumn('finish_time', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('instance_actions_instance')
    .on('instance_actions')
    .columns(['instance_id', 'start_time'])
    .execute();

  await db.schema
    .createTable('instance_action_events')
    .addColumn('action_id', 'text', (c) =>
      c.notNull().references('instance_actions.id').onDelete('cascade'),
    )
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('host', 'text')
    .addColumn('result', 'text')
    .addColumn('traceback', 'text')
    .addColumn('start_time', 'bigint', (c) => c.notNull())
    .addColumn('finish_time', 'bigint')
    .addPrimaryKeyConstraint('instance_action_events_pk', ['action_id', 'event'])
    .execute();

  await db.schema
    .createTable('aggregates')
    // Nova's integer aggregate id, assigned by the store (max + 1) so both dialects agree.
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('uuid', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('availability_zone', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint')
    .execute();
  await db.schema
    .createTable('aggregate_hosts')
    .addColumn('aggregate_id', 'integer', (c) =>
      c.notNull().references('aggregates.id').onDelete('cascade'),
    )
    .addColumn('host', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('aggregate_hosts_pk', ['aggregate_id', 'host'])
    .execute();
  await db.schema
    .createTable('aggregate_metadata')
    .addColumn('aggregate_id', 'integer', (c) =>
      c.notNull().references('aggregates.id').onDelete('cascade'),
    )
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('aggregate_metadata_pk', ['aggregate_id', 'key'])
    .execute();
}
