// Keystone's JSON shapes for identity resources. Pure functions of records and the base URL;
// views never query and never decide policy.
import type {
  AppCredential,
  CatalogService,
  Domain,
  Endpoint,
  Group,
  Project,
  Region,
  Role,
} from '../model.ts';
import type { User } from '../model.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { CatalogEntry } from '../service/catalog.ts';
import type { ListedAssignment, NameBook } from '../service/assignments.ts';

/** Keystone's timestamp format: ISO 8601 with microseconds and a Z. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export const link = (base: string, path: string) => ({ self: `${base}/v3/${path}` });
export const listLinks = (base: string, path: string) => ({
  self: `${base}/v3/${path}`,
  previous: null,
  next: null,
});

export function domainView(base: string, d: Domain) {
  return {
    ...d.extra,
    id: d.id,
    name: d.name,
    description: d.description,
    enabled: d.enabled,
    tags: [],
    options: {},
    links: link(base, `domains/${d.id}`),
  };
}

export function projectView(base: string, p: Project) {
  return {
    ...p.extra,
    id: p.id,
    name: p.name,
    domain_id: p.domainId,
    description: p.description,
    enabled: p.enabled,
    // Keystone names the domain as the parent of a top-level project.
    parent_id: p.parentId ?? p.domainId,
    is_domain: false,
    tags: p.tags,
    options: {},
    links: link(base, `projects/${p.id}`),
  };
}

export function userView(base: string, u: User) {
  return {
    ...u.extra,
    id: u.id,
    name: u.name,
    domain_id: u.domainId,
    enabled: u.enabled,
    ...(u.defaultProjectId ? { default_project_id: u.defaultProjectId } : {}),
    password_expires_at:
      u.passwordExpiresAt === null
        ? null
        : isoTime(u.passwordExpiresAt).replace(/\.\d+Z$/, '.000000'),
    options: u.options,
    links: link(base, `users/${u.id}`),
  };
}

export function groupView(base: string, g: Group) {
  return {
    ...g.extra,
    id: g.id,
    name: g.name,
    domain_id: g.domainId,
    description: g.description,
    links: link(base, `groups/${g.id}`),
  };
}

export function roleView(base: string, r: Role) {
  return {
    ...r.extra,
    id: r.id,
    name: r.name,
    domain_id: r.domainId,
    description: r.description,
    options: r.options,
    links: link(base, `roles/${r.id}`),
  };
}

export const roleRef = (base: string, r: Role) => ({
  id: r.id,
  name: r.name,
  links: link(base, `roles/${r.id}`),
});

export function regionView(base: string, r: Region) {
  return {
    ...r.extra,
    id: r.id,
    description: r.description,
    parent_region_id: r.parentRegionId,
    links: link(base, `regions/${r.id}`),
  };
}

export function serviceView(base: string, s: CatalogService) {
  return {
    ...s.extra,
    id: s.id,
    type: s.type,
    name: s.name,
    description: s.description,
    enabled: s.enabled,
    links: link(base, `services/${s.id}`),
  };
}

export function endpointView(base: string, e: Endpoint) {
  return {
    ...e.extra,
    id: e.id,
    interface: e.interface,
    region: e.regionId,
    region_id: e.regionId,
    service_id: e.serviceId,
    url: e.url,
    enabled: e.enabled,
    links: link(base, `endpoints/${e.id}`),
  };
}

export function appCredView(base: string, a: AppCredential, secret?: string) {
  return {
    id: a.id,
    name: a.name,
    description: a.description,
    user_id: a.userId,
    project_id: a.projectId,
    expires_at: a.expiresAt === null ? null : isoTime(a.expiresAt),
    unrestricted: a.unrestricted,
    roles: a.roles.map((r) => ({ id: r.id, name: r.name, domain_id: r.domainId })),
    access_rules: a.accessRules,
    ...(secret !== undefined ? { secret } : {}),
    links: link(base, `users/${a.userId}/application_credentials/${a.id}`),
  };
}

/** Keystone shows a credential's access rules in its tokens only when it has some. */
function tokenAppCredView(a: NonNullable<AuthContext['appCred']>) {
  return {
    id: a.id,
    name: a.name,
    restricted: a.restricted,
    ...(a.accessRules.length > 0 ? { access_rules: a.accessRules } : {}),
  };
}

export function catalogView(entries: readonly CatalogEntry[]) {
  return entries.map((s) => ({ endpoints: s.endpoints, id: s.id, type: s.type, name: s.name }));
}

export function tokenView(ctx: AuthContext, catalog: readonly CatalogEntry[] | undefined) {
  const s = ctx.scope;
  return {
    token: {
      methods: ctx.methods,
      user: {
        domain: ctx.user.domain,
        id: ctx.user.id,
        name: ctx.user.name,
        password_expires_at:
          ctx.user.passwordExpiresAt === null ? null : isoTime(ctx.user.passwordExpiresAt),
      },
      audit_ids: ctx.auditIds,
      expires_at: isoTime(ctx.expiresAt),
      issued_at: isoTime(ctx.issuedAt),
      ...(s.kind === 'project'
        ? {
            project: { domain: s.project.domain, id: s.project.id, name: s.project.name },
            is_domain: false,
          }
        : {}),
      ...(s.kind === 'domain' ? { domain: s.domain } : {}),
      ...(s.kind === 'system' ? { system: { all: true } } : {}),
      ...(s.kind !== 'unscoped'
        ? { roles: ctx.roles.map((r) => ({ id: r.id, name: r.name })) }
        : {}),
      ...(ctx.appCred ? { application_credential: tokenAppCredView(ctx.appCred) } : {}),
      ...(catalog && s.kind !== 'unscoped' ? { catalog: catalogView(catalog) } : {}),
    },
  };
}

export function assignmentView(base: string, a: ListedAssignment, names: NameBook | undefined) {
  const actorPath = a.via.source.type.startsWith('User') ? 'users' : 'groups';
  const src = a.via.source;
  const srcScopePath = src.type.endsWith('Project')
    ? `projects/${src.targetId}`
    : src.type.endsWith('Domain')
      ? `domains/${src.targetId}`
      : 'system';
  const assignmentLink = `${base}/v3/${src.inherited ? 'OS-INHERIT/' : ''}${srcScopePath}/${actorPath}/${src.actorId}/roles/${src.roleId}${src.inherited ? '/inherited_to_projects' : ''}`;
  const named = (
    id: string,
    book: ReadonlyMap<string, { name: string; domain: { id: string; name: string } }> | undefined,
  ) => {
    const n = book?.get(id);
    return n ? { id, name: n.name, domain: n.domain } : { id };
  };
  const role = names?.roles.get(a.roleId);
  const scope =
    a.scope.kind === 'project'
      ? { project: named(a.scope.id, names?.projects) }
      : a.scope.kind === 'domain'
        ? {
            domain: names
              ? { id: a.scope.id, name: names.domains.get(a.scope.id) ?? '' }
              : { id: a.scope.id },
          }
        : { system: { all: true } };
  return {
    role: role
      ? {
          id: a.roleId,
          name: role.name,
          ...(role.domainId
            ? { domain: { id: role.domainId, name: names?.domains.get(role.domainId) ?? '' } }
            : {}),
        }
      : { id: a.roleId },
    ...(a.actor.kind === 'user'
      ? { user: named(a.actor.id, names?.users) }
      : { group: named(a.actor.id, names?.groups) }),
    scope: { ...scope, ...(a.inherited ? { 'OS-INHERIT:inherited_to': 'projects' } : {}) },
    links: {
      assignment: assignmentLink,
      ...(a.via.groupId
        ? { membership: `${base}/v3/groups/${a.via.groupId}/users/${a.actor.id}` }
        : {}),
      ...(a.via.priorRoleId ? { prior_role: `${base}/v3/roles/${a.via.priorRoleId}` } : {}),
    },
  };
}
