// JSON Schemas of identity request bodies (Keystone's constraints) and helpers that turn a valid
// body into service input: known fields by name, everything else kept as `extra`, as Keystone does.

import { s, type Schema } from '../../platform/http/schema.ts';

export const str = (max = 255) => s.string({ minLength: 1, maxLength: max, pattern: '\\S' });
export const optStr = (max = 255) => s.nullable(s.string({ maxLength: max }));
export const bool = s.boolean();
export const id = s.string({ minLength: 1, maxLength: 64 });
export const nullableId = s.nullable(id);
const tags = s.array(s.string({ minLength: 1, maxLength: 255, pattern: '^[^,/]*$' }), {
  maxItems: 80,
});
const freeform = s.record(s.unknown());

/** `{ "<key>": { ...properties } }` with the inner object required and open to extra keys. */
export function wrapped<
  const K extends string,
  const P extends Readonly<Record<string, Schema>>,
  R extends keyof P & string = never,
>(key: K, properties: P, required: readonly R[] = []) {
  const inner = s.object(properties, { required, maxProperties: 64 });
  // A computed key widens to string; K is exactly the one key set here.
  return s.object({ [key]: inner } as Record<K, typeof inner>, { required: [key] });
}

const domainProps = { name: str(64), description: optStr(), enabled: bool, tags };
const projectProps = {
  name: str(64),
  description: optStr(),
  enabled: bool,
  domain_id: id,
  parent_id: nullableId,
  is_domain: bool,
  tags,
};
const userProps = {
  name: str(255),
  domain_id: id,
  password: s.nullable(s.string({ maxLength: 4096 })),
  enabled: bool,
  default_project_id: nullableId,
  description: optStr(),
  email: optStr(),
  // Keystone's user options: each true or false, or null to unset it.
  options: s.record(s.nullable(bool)),
};
const groupProps = { name: str(64), domain_id: id, description: optStr() };
const roleProps = {
  name: str(255),
  domain_id: nullableId,
  description: optStr(),
  options: freeform,
};
const nullableText = s.nullable(s.string({ maxLength: 255 }));
const endpointProps = {
  service_id: id,
  interface: s.literal(['public', 'internal', 'admin']),
  url: s.string({ minLength: 1, maxLength: 2048, pattern: '^[a-zA-Z][a-zA-Z0-9+.-]*://' }),
  region_id: nullableText,
  region: nullableText,
  enabled: bool,
};
const serviceProps = { type: str(255), name: optStr(), description: optStr(), enabled: bool };

export const schemas = {
  domainCreate: wrapped('domain', domainProps, ['name']),
  domainUpdate: wrapped('domain', domainProps),
  projectCreate: wrapped('project', projectProps, ['name']),
  projectUpdate: wrapped('project', projectProps),
  userCreate: wrapped('user', userProps, ['name']),
  userUpdate: wrapped('user', userProps),
  passwordChange: wrapped(
    'user',
    {
      password: s.string({ minLength: 1, maxLength: 4096 }),
      original_password: s.string({ maxLength: 4096 }),
    },
    ['password', 'original_password'],
  ),
  groupCreate: wrapped('group', groupProps, ['name']),
  groupUpdate: wrapped('group', groupProps),
  roleCreate: wrapped('role', roleProps, ['name']),
  roleUpdate: wrapped('role', roleProps),
  regionCreate: wrapped('region', {
    id: str(255),
    description: optStr(),
    parent_region_id: nullableText,
  }),
  regionUpdate: wrapped('region', { description: optStr(), parent_region_id: nullableText }),
  serviceCreate: wrapped('service', serviceProps, ['type']),
  serviceUpdate: wrapped('service', serviceProps),
  endpointCreate: wrapped('endpoint', endpointProps, ['service_id', 'interface', 'url']),
  endpointUpdate: wrapped('endpoint', endpointProps),
  appCredCreate: wrapped(
    'application_credential',
    {
      name: str(255),
      secret: s.nullable(s.string({ minLength: 1, maxLength: 4096 })),
      description: optStr(),
      expires_at: s.nullable(s.string({ maxLength: 64 })),
      unrestricted: bool,
      roles: s.array(s.object({ id, name: str(255) }), { maxItems: 64 }),
      access_rules: s.array(freeform, { maxItems: 64 }),
    },
    ['name'],
  ),
} as const;

const domainSel = s.object({ id, name: str(255) });
const userSel = {
  id,
  name: str(255),
  domain: domainSel,
  password: s.string({ maxLength: 4096 }),
};

export const authSchema = s.object(
  {
    auth: s.object(
      {
        identity: s.object(
          {
            methods: s.array(s.string({ maxLength: 64 }), { minItems: 1, maxItems: 8 }),
            password: s.object(
              { user: s.object(userSel, { required: ['password'] }) },
              { required: ['user'] },
            ),
            token: s.object(
              { id: s.string({ minLength: 1, maxLength: 4096 }) },
              { required: ['id'] },
            ),
            application_credential: s.object(
              {
                id,
                name: str(255),
                secret: s.string({ maxLength: 4096 }),
                user: s.object(userSel),
              },
              { required: ['secret'] },
            ),
          },
          { required: ['methods'] },
        ),
        scope: s.oneOf(
          s.literal(['unscoped']),
          s.object(
            {
              project: s.object({ id, name: str(255), domain: domainSel }),
              domain: domainSel,
              system: s.object({ all: s.boolean() }),
              'OS-TRUST:trust': freeform,
            },
            { maxProperties: 1 },
          ),
        ),
      },
      { required: ['identity'] },
    ),
  },
  { required: ['auth'] },
);

/** Splits a validated resource body into the named fields and Keystone's free-form extras. */
export function splitBody<T extends Readonly<Record<string, unknown>>, K extends keyof T & string>(
  body: T,
  known: readonly K[],
): { fields: Pick<T, K>; extra: Record<string, unknown> } {
  // Filled below with every known key the body has, so it has the keys T says it must have.
  const fields = {} as Pick<T, K>;
  const extra: Record<string, unknown> = {};
  const reserved = new Set(['id', 'links', 'is_domain', 'options', 'password_expires_at']);
  const isKnown = (k: string): k is K => (known as readonly string[]).includes(k);
  for (const [k, v] of Object.entries(body)) {
    if (isKnown(k)) fields[k] = v as T[K];
    else if (!reserved.has(k)) extra[k] = v;
  }
  return { fields, extra };
}
