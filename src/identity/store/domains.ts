// SQL for domains and projects. Returns identity model records; knows nothing of policy or HTTP.
import type { Selectable } from 'kysely';
import type { DomainTable, ProjectTable, IdentityExecutor } from './tables.ts';
import type { Domain, Project } from '../model.ts';
import { flag, parseJson, uniquely } from '../../platform/db/store-helpers.ts';

const toDomain = (r: Selectable<DomainTable>): Domain => ({
  id: r.id,
  name: r.name,
  description: r.description,
  enabled: r.enabled === 1,
  extra: parseJson(r.extra, {}),
});
const toProject = (r: Selectable<ProjectTable>): Project => ({
  id: r.id,
  name: r.name,
  domainId: r.domain_id,
  parentId: r.parent_id,
  description: r.description,
  enabled: r.enabled === 1,
  tags: parseJson(r.tags, []),
  extra: parseJson(r.extra, {}),
});

export async function insertDomain(db: IdentityExecutor, d: Domain): Promise<Domain> {
  await uniquely(`Duplicate entry found with name ${d.name} at domain level.`, () =>
    db
      .insertInto('domains')
      .values({
        id: d.id,
        name: d.name,
        description: d.description,
        enabled: flag(d.enabled),
        extra: JSON.stringify(d.extra),
        created_at: Date.now(),
      })
      .execute(),
  );
  return d;
}

export async function getDomain(db: IdentityExecutor, id: string): Promise<Domain | undefined> {
  const r = await db.selectFrom('domains').selectAll().where('id', '=', id).executeTakeFirst();
  return r && toDomain(r);
}

export async function getDomainByName(
  db: IdentityExecutor,
  name: string,
): Promise<Domain | undefined> {
  const r = await db.selectFrom('domains').selectAll().where('name', '=', name).executeTakeFirst();
  return r && toDomain(r);
}

export async function listDomains(
  db: IdentityExecutor,
  f: { name?: string; enabled?: boolean; ids?: readonly string[] },
): Promise<Domain[]> {
  let q = db.selectFrom('domains').selectAll().orderBy('name');
  if (f.name !== undefined) q = q.where('name', '=', f.name);
  if (f.enabled !== undefined) q = q.where('enabled', '=', flag(f.enabled));
  if (f.ids) {
    if (f.ids.length === 0) return [];
    q = q.where('id', 'in', [...f.ids]);
  }
  return (await q.execute()).map(toDomain);
}

export async function updateDomain(db: IdentityExecutor, d: Domain): Promise<Domain> {
  await uniquely(`Duplicate entry found with name ${d.name} at domain level.`, () =>
    db
      .updateTable('domains')
      .set({
        name: d.name,
        description: d.description,
        enabled: flag(d.enabled),
        extra: JSON.stringify(d.extra),
      })
      .where('id', '=', d.id)
      .execute(),
  );
  return d;
}

export async function deleteDomain(db: IdentityExecutor, id: string): Promise<void> {
  await db.deleteFrom('domains').where('id', '=', id).execute();
}

export async function insertProject(db: IdentityExecutor, p: Project): Promise<Project> {
  await uniquely(
    `Duplicate entry found with name ${p.name} at project level in domain ${p.domainId}.`,
    () =>
      db
        .insertInto('projects')
        .values({
          id: p.id,
          name: p.name,
          domain_id: p.domainId,
          parent_id: p.parentId,
          description: p.description,
          enabled: flag(p.enabled),
          is_domain: 0,
          tags: JSON.stringify(p.tags),
          extra: JSON.stringify(p.extra),
          created_at: Date.now(),
        })
        .execute(),
  );
  return p;
}

export async function getProject(db: IdentityExecutor, id: string): Promise<Project | undefined> {
  const r = await db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
  return r && toProject(r);
}

export async function getProjectByName(
  db: IdentityExecutor,
  domainId: string,
  name: string,
): Promise<Project | undefined> {
  const r = await db
    .selectFrom('projects')
    .selectAll()
    .where('domain_id', '=', domainId)
    .where('name', '=', name)
    .executeTakeFirst();
  return r && toProject(r);
}

export interface ProjectFilter {
  readonly name?: string;
  readonly domainId?: string;
  readonly parentId?: string;
  readonly enabled?: boolean;
  readonly ids?: readonly string[];
}

export async function listProjects(db: IdentityExecutor, f: ProjectFilter): Promise<Project[]> {
  let q = db.selectFrom('projects').selectAll().orderBy('name');
  if (f.name !== undefined) q = q.where('name', '=', f.name);
  if (f.domainId !== undefined) q = q.where('domain_id', '=', f.domainId);
  if (f.parentId !== undefined) q = q.where('parent_id', '=', f.parentId);
  if (f.enabled !== undefined) q = q.where('enabled', '=', flag(f.enabled));
  if (f.ids) {
    if (f.ids.length === 0) return [];
    q = q.where('id', 'in', [...f.ids]);
  }
  return (await q.execute()).map(toProject);
}

export async function updateProject(db: IdentityExecutor, p: Project): Promise<Project> {
  await uniquely(
    `Duplicate entry found with name ${p.name} at project level in domain ${p.domainId}.`,
    () =>
      db
        .updateTable('projects')
        .set({
          name: p.name,
          description: p.description,
          enabled: flag(p.enabled),
          tags: JSON.stringify(p.tags),
          extra: JSON.stringify(p.extra),
        })
        .where('id', '=', p.id)
        .execute(),
  );
  return p;
}

export async function deleteProject(db: IdentityExecutor, id: string): Promise<void> {
  await db.deleteFrom('projects').where('id', '=', id).execute();
}

export async function countChildren(db: IdentityExecutor, projectId: string): Promise<number> {
  const r = await db
    .selectFrom('projects')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('parent_id', '=', projectId)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

export async function countInDomain(db: IdentityExecutor, domainId: string): Promise<number> {
  const tables = ['projects', 'users', 'groups'] as const;
  let n = 0;
  for (const t of tables) {
    const r = await db
      .selectFrom(t)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('domain_id', '=', domainId)
      .executeTakeFirst();
    n += Number(r?.n ?? 0);
  }
  return n;
}
