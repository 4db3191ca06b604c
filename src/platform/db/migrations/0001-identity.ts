// Identity's tables: domains, projects, users, groups, roles, assignments, catalog, application
// credentials and token revocation events. Never edit a released migration; add the next one.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  const text = (n: string) => (c: any) => c.notNull().defaultTo(n);
  await db.schema
    .createTable('meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('domains')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text', text(''))
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('extra', 'text', text('{}'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('projects')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('domain_id', 'text', (c) => c.notNull())
    .addColumn('parent_id', 'text')
    .addColumn('description', 'text', text(''))
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('is_domain', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('tags', 'text', text('[]'))
    .addColumn('extra', 'text', text('{}'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('projects_domain_name', ['domain_id', 'name'])
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('domain_id', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('default_project_id', 'text')
    .addColumn('password_hash', 'text')
    .addColumn('password_created_at', 'bigint')
    .addColumn('password_expires_at', 'bigint')
    .addColumn('extra', 'text', text('{}'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('users_domain_name', ['domain_id', 'name'])
    .execute();

  await db.schema
    .createTable('groups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('domain_id', 'text', (c) => c.notNull())
    .addColumn('description', 'text', text(''))
    .addColumn('extra', 'text', text('{}'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('groups_domain_name', ['domain_id', 'name'])
    .execute();

  await db.schema
    .createTable('user_groups')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('user_groups_pk', ['user_id', 'group_id'])
    .execute();
  await db.schema.createIndex('user_groups_group').on('user_groups').column('group_id').execute();

  await db.schema
    .createTable('roles')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('domain_id', 'text', text(''))
    .addColumn('description', 'text', text(''))
    .addColumn('options', 'text', text('{}'))
    .addColumn('extra', 'text', text('{}'))
    .addUniqueConstraint('roles_domain_name', ['domain_id', 'name'])
    .execute();

  await db.schema
    .createTable('implied_roles')
    .addColumn('prior_role_id', 'text', (c) =>
      c.notNull().references('roles.id').onDelete('cascade'),
    )
    .addColumn('implied_role_id', 'text', (c) =>
      c.notNull().references('roles.id').onDelete('cascade'),
    )
    .addPrimaryKeyConstraint('implied_roles_pk', ['prior_role_id', 'implied_role_id'])
    .execute();

  await db.schema
    .createTable('assignments')
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('role_id', 'text', (c) => c.notNull().references('roles.id').onDelete('cascade'))
    .addColumn('inherited', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('assignments_pk', [
      'type',
      'actor_id',
      'target_id',
      'role_id',
      'inherited',
    ])
    .execute();
  await db.schema
    .createIndex('assignments_actor')
    .on('assignments')
    .columns(['actor_id', 'target_id'])
    .execute();
  await db.schema.createIndex('assignments_target').on('assignments').column('target_id').execute();

  await db.schema
    .createTable('regions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('description', 'text', text(''))
    .addColumn('parent_region_id', 'text')
    .addColumn('extra', 'text', text('{}'))
    .execute();

  await db.schema
    .createTable('services')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('name', 'text', text(''))
    .addColumn('description', 'text', text(''))
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('extra', 'text', text('{}'))
    .execute();

  await db.schema
    .createTable('endpoints')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('service_id', 'text', (c) =>
      c.notNull().references('services.id').onDelete('cascade'),
    )
    .addColumn('interface', 'text', (c) => c.notNull())
    .addColumn('region_id', 'text')
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('extra', 'text', text('{}'))
    .execute();

  await db.schema
    .createTable('app_credentials')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('description', 'text', text(''))
    .addColumn('expires_at', 'bigint')
    .addColumn('unrestricted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('roles', 'text', text('[]'))
    .addColumn('access_rules', 'text', text('[]'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('app_credentials_user_name', ['user_id', 'name'])
    .execute();

  await db.schema
    .createTable('revocation_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('audit_id', 'text')
    .addColumn('user_id', 'text')
    .addColumn('project_id', 'text')
    .addColumn('domain_id', 'text')
    .addColumn('app_cred_id', 'text')
    .addColumn('issued_before', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('revocation_events_audit')
    .on('revocation_events')
    .column('audit_id')
    .execute();
  await db.schema
    .createIndex('revocation_events_user')
    .on('revocation_events')
    .column('user_id')
    .execute();
  await db.schema
    .createIndex('revocation_events_project')
    .on('revocation_events')
    .column('project_id')
    .execute();
}
