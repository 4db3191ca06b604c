// First-start bootstrap, like `keystone-manage bootstrap`: the default domain, the admin project,
// the admin/member/reader roles (admin implies member implies reader), the admin user with admin
// on the project and the system, a region, and the catalog entries of the services Nubes serves.
// Idempotent: every later start only reconciles the catalog URLs with the current public URL.
import { inTransaction, type DbHandle } from '../platform/db/database.ts';
import * as dirs from './store/domains.ts';
import * as users from './store/users.ts';
import * as roles from './store/roles.ts';
import * as catalog from './store/catalog.ts';
import { getMeta, lockMeta, setMeta } from './store/meta.ts';
import { hashPassword, type Argon2Params } from '../platform/auth/password.ts';
import { DEFAULT_DOMAIN_ID, hexId } from '../platform/ids.ts';
import { SYSTEM_TARGET, type Interface } from './model.ts';

export interface ServiceEndpoint {
  readonly type: string;
  readonly name: string;
  readonly description: string;
  readonly url: string;
}

export interface BootstrapInput {
  readonly adminPassword: string;
  readonly region: string;
  /** Services this process serves; their catalog entries follow the current URLs on every start. */
  readonly services: readonly ServiceEndpoint[];
  readonly argon2: Argon2Params;
}

export interface BootstrapResult {
  readonly firstStart: boolean;
  readonly adminUserId: string;
  readonly adminProjectId: string;
}

const BOOTSTRAPPED = 'bootstrapped';
const INTERFACES: readonly Interface[] = ['public', 'internal', 'admin'];

async function ensureRole(db: DbHandle, name: string): Promise<string> {
  const found = await roles.getRoleByName(db, name, null);
  if (found) return found.id;
  return (
    await roles.insertRole(db, {
      id: hexId(),
      name,
      domainId: null,
      description: '',
      options: {},
      extra: {},
    })
  ).id;
}

/** The result of an earlier bootstrap, or undefined on an empty database. */
async function bootstrapped(db: DbHandle): Promise<BootstrapResult | undefined> {
  const done = await getMeta(db, BOOTSTRAPPED);
  return done
    ? {
        firstStart: false,
        ...(JSON.parse(done) as { adminUserId: string; adminProjectId: string }),
      }
    : undefined;
}

export async function bootstrapIdentity(
  db: DbHandle,
  input: BootstrapInput,
): Promise<BootstrapResult> {
  const result =
    (await bootstrapped(db)) ??
    (await firstBootstrap(db, input).catch(async (e: unknown) => {
      // Replicas started together race here; the loser's transaction fails on a unique name and
      // finds the winner's bootstrap done.
      const won = await bootstrapped(db);
      if (!won) throw e;
      return won;
    }));
  await reconcileCatalog(db, input);
  return result;
}

async function firstBootstrap(db: DbHandle, input: BootstrapInput): Promise<BootstrapResult> {
  return inTransaction(db, async (tx) => {
    // A replica that waited here for another's bootstrap to commit must not do it again and call
    // itself the first: this write takes the identity generation's lock (its trigger runs even when
    // no row matches), so the read after it sees any bootstrap committed meanwhile.
    await lockMeta(tx, BOOTSTRAPPED);
    const done = await getMeta(tx, BOOTSTRAPPED);
    if (done)
      return {
        firstStart: false,
        ...(JSON.parse(done) as { adminUserId: string; adminProjectId: string }),
      };
    if (!(await dirs.getDomain(tx, DEFAULT_DOMAIN_ID))) {
      await dirs.insertDomain(tx, {
        id: DEFAULT_DOMAIN_ID,
        name: 'Default',
        description: 'The default domain',
        enabled: true,
        extra: {},
      });
    }
    const project =
      (await dirs.getProjectByName(tx, DEFAULT_DOMAIN_ID, 'admin')) ??
      (await dirs.insertProject(tx, {
        id: hexId(),
        name: 'admin',
        domainId: DEFAULT_DOMAIN_ID,
        parentId: null,
        description: 'Bootstrap project for the cloud administrator',
        enabled: true,
        tags: [],
        extra: {},
      }));
    (await dirs.getProjectByName(tx, DEFAULT_DOMAIN_ID, 'service')) ??
      (await dirs.insertProject(tx, {
        id: hexId(),
        name: 'service',
        domainId: DEFAULT_DOMAIN_ID,
        parentId: null,
        description: 'Project of the service users',
        enabled: true,
        tags: [],
        extra: {},
      }));
    const reader = await ensureRole(tx, 'reader');
    const member = await ensureRole(tx, 'member');
    const admin = await ensureRole(tx, 'admin');
    await ensureRole(tx, 'service');
    await roles.insertImplied(tx, admin, member);
    await roles.insertImplied(tx, member, reader);
    const user =
      (await users.getUserByName(tx, DEFAULT_DOMAIN_ID, 'admin')) ??
      (await users.insertUser(tx, {
        id: hexId(),
        name: 'admin',
        domainId: DEFAULT_DOMAIN_ID,
        enabled: true,
        defaultProjectId: project.id,
        passwordHash: await hashPassword(input.adminPassword, input.argon2),
        passwordExpiresAt: null,
        options: {},
        extra: {},
      }));
    await roles.insertAssignment(tx, {
      type: 'UserProject',
      actorId: user.id,
      targetId: project.id,
      roleId: admin,
      inherited: false,
    });
    await roles.insertAssignment(tx, {
      type: 'UserSystem',
      actorId: user.id,
      targetId: SYSTEM_TARGET,
      roleId: admin,
      inherited: false,
    });
    if (!(await catalog.getRegion(tx, input.region))) {
      await catalog.insertRegion(tx, {
        id: input.region,
        description: '',
        parentRegionId: null,
        extra: {},
      });
    }
    const r = { adminUserId: user.id, adminProjectId: project.id };
    await setMeta(tx, BOOTSTRAPPED, JSON.stringify(r));
    return { firstStart: true, ...r };
  });
}

/** Makes the catalog entries of Nubes' own services match the URLs this start serves them at. */
async function reconcileCatalog(db: DbHandle, input: BootstrapInput): Promise<void> {
  await inTransaction(db, async (tx) => {
    // Services have no unique key (Keystone allows two of one type): replicas starting together
    // take turns here, or each would add its own.
    await lockMeta(tx, BOOTSTRAPPED);
    if (!(await catalog.getRegion(tx, input.region))) {
      await catalog.insertRegion(tx, {
        id: input.region,
        description: '',
        parentRegionId: null,
        extra: {},
      });
    }
    for (const s of input.services) {
      const existing = (await catalog.listServices(tx, { type: s.type })).find(
        (x) => x.extra['nubes_managed'] === true,
      );
      const service =
        existing ??
        (await catalog.insertService(tx, {
          id: hexId(),
          type: s.type,
          name: s.name,
          description: s.description,
          enabled: true,
          extra: { nubes_managed: true },
        }));
      const endpoints = await catalog.listEndpoints(tx, { serviceId: service.id });
      for (const iface of INTERFACES) {
        const e = endpoints.find((x) => x.interface === iface && x.regionId === input.region);
        if (!e) {
          await catalog.insertEndpoint(tx, {
            id: hexId(),
            serviceId: service.id,
            interface: iface,
            regionId: input.region,
            url: s.url,
            enabled: true,
            extra: {},
          });
        } else if (e.url !== s.url) {
          await catalog.updateEndpoint(tx, { ...e, url: s.url });
        }
      }
    }
  });
}
