// JSON Schemas of identity request bodies (Keystone's constraints) and helpers that turn a valid
// body into service input: known fields by name, everything else kept as `extra`, as Keystone does.

type Schema = Record<string, unknown>;

export const str = (max = 255): Schema => ({
  type: 'string',
  minLength: 1,
  maxLength: max,
  pattern: '\\S',
});
export const optStr = (max = 255): Schema => ({ type: ['string', 'null'], maxLength: max });
export const bool: Schema = { type: 'boolean' };
export const id: Schema = { type: 'string', minLength: 1, maxLength: 64 };
export const nullableId: Schema = { type: ['string', 'null'], minLength: 1, maxLength: 64 };
const tags: Schema = {
  type: 'array',
  maxItems: 80,
  items: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^,/]*$' },
};

/** `{ "<key>": { ...properties } }` with the inner object required. */
export function wrapped(
  key: string,
  properties: Record<string, Schema>,
  required: readonly string[] = [],
): Schema {
  return {
    type: 'object',
    required: [key],
    properties: {
      [key]: {
        type: 'object',
        properties,
        required,
        additionalProperties: true,
        maxProperties: 64,
      },
    },
  };
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
  password: { type: ['string', 'null'], maxLength: 4096 },
  enabled: bool,
  default_project_id: nullableId,
  description: optStr(),
  email: optStr(),
  options: { type: 'object' },
};
const groupProps = { name: str(64), domain_id: id, description: optStr() };
const roleProps = {
  name: str(255),
  domain_id: nullableId,
  description: optStr(),
  options: { type: 'object' },
};

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
      password: { type: 'string', minLength: 1, maxLength: 4096 },
      original_password: { type: 'string', maxLength: 4096 },
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
    parent_region_id: { type: ['string', 'null'], maxLength: 255 },
  }),
  regionUpdate: wrapped('region', {
    description: optStr(),
    parent_region_id: { type: ['string', 'null'], maxLength: 255 },
  }),
  serviceCreate: wrapped(
    'service',
    { type: str(255), name: optStr(), description: optStr(), enabled: bool },
    ['type'],
  ),
  serviceUpdate: wrapped('service', {
    type: str(255),
    name: optStr(),
    description: optStr(),
    enabled: bool,
  }),
  endpointCreate: wrapped(
    'endpoint',
    {
      service_id: id,
      interface: { type: 'string', enum: ['public', 'internal', 'admin'] },
      url: {
        type: 'string',
        minLength: 1,
        maxLength: 2048,
        pattern: '^[a-zA-Z][a-zA-Z0-9+.-]*://',
      },
      region_id: { type: ['string', 'null'], maxLength: 255 },
      region: { type: ['string', 'null'], maxLength: 255 },
      enabled: bool,
    },
    ['service_id', 'interface', 'url'],
  ),
  endpointUpdate: wrapped('endpoint', {
    service_id: id,
    interface: { type: 'string', enum: ['public', 'internal', 'admin'] },
    url: { type: 'string', minLength: 1, maxLength: 2048, pattern: '^[a-zA-Z][a-zA-Z0-9+.-]*://' },
    region_id: { type: ['string', 'null'], maxLength: 255 },
    region: { type: ['string', 'null'], maxLength: 255 },
    enabled: bool,
  }),
  appCredCreate: wrapped(
    'application_credential',
    {
      name: str(255),
      secret: { type: ['string', 'null'], minLength: 1, maxLength: 4096 },
      description: optStr(),
      expires_at: { type: ['string', 'null'], maxLength: 64 },
      unrestricted: bool,
      roles: {
        type: 'array',
        maxItems: 64,
        items: { type: 'object', properties: { id, name: str(255) }, additionalProperties: true },
      },
      access_rules: { type: 'array', maxItems: 64, items: { type: 'object' } },
    },
    ['name'],
  ),
} as const;

const domainSel: Schema = {
  type: 'object',
  properties: { id, name: str(255) },
  additionalProperties: true,
};
const userSel: Schema = {
  type: 'object',
  properties: {
    id,
    name: str(255),
    domain: domainSel,
    password: { type: 'string', maxLength: 4096 },
  },
  additionalProperties: true,
};

export const authSchema: Schema = {
  type: 'object',
  required: ['auth'],
  properties: {
    auth: {
      type: 'object',
      required: ['identity'],
      properties: {
        identity: {
          type: 'object',
          required: ['methods'],
          properties: {
            methods: {
              type: 'array',
              minItems: 1,
              maxItems: 8,
              items: { type: 'string', maxLength: 64 },
            },
            password: {
              type: 'object',
              required: ['user'],
              properties: { user: { ...userSel, required: ['password'] } },
            },
            token: {
              type: 'object',
              required: ['id'],
              properties: { id: { type: 'string', minLength: 1, maxLength: 4096 } },
            },
            application_credential: {
              type: 'object',
              required: ['secret'],
              properties: {
                id,
                name: str(255),
                secret: { type: 'string', maxLength: 4096 },
                user: userSel,
              },
            },
          },
        },
        scope: {
          oneOf: [
            { type: 'string', enum: ['unscoped'] },
            {
              type: 'object',
              maxProperties: 1,
              properties: {
                project: { type: 'object', properties: { id, name: str(255), domain: domainSel } },
                domain: domainSel,
                system: { type: 'object', properties: { all: { type: 'boolean' } } },
                'OS-TRUST:trust': { type: 'object' },
              },
            },
          ],
        },
      },
    },
  },
};

/** Splits a validated resource body into the named fields and Keystone's free-form extras. */
// `fields` is `any`: the route schema has already checked each named field's type.
export function splitBody(
  body: Record<string, unknown>,
  known: readonly string[],
): { fields: Record<string, any>; extra: Record<string, unknown> } {
  const fields: Record<string, any> = {};
  const extra: Record<string, unknown> = {};
  const reserved = new Set(['id', 'links', 'is_domain', 'options', 'password_expires_at']);
  for (const [k, v] of Object.entries(body)) {
    if (known.includes(k)) fields[k] = v;
    else if (!reserved.has(k)) extra[k] = v;
  }
  return { fields, extra };
}
