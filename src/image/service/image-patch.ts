// Applies a Glance JSON patch (application/openstack-images-v2.1-json-patch) to an image, op by op
// in order, and returns the resulting change set. Pure: no database, no policy beyond the
// admin-only attributes, so every rule here is unit-tested (image-patch.test.ts).
import { BadRequest, Conflict, Forbidden } from '../../platform/errors.ts';
import {
  CONTAINER_FORMATS,
  DISK_FORMATS,
  VISIBILITIES,
  type Image,
  type ImageCore,
  type Visibility,
} from '../model.ts';

export interface PatchOp {
  readonly op: string;
  readonly path: string;
  readonly value?: unknown;
}

export interface PatchResult {
  readonly core: Partial<ImageCore> & { owner?: string | null };
  readonly setProperties: Record<string, string>;
  readonly removeProperties: string[];
  readonly tags: string[] | undefined;
  /** The image's tags and properties after the patch, for limit checks. */
  readonly next: {
    readonly tags: readonly string[];
    readonly properties: Readonly<Record<string, string>>;
  };
}

/** What only the image service sets; a create may name none of these (but may choose its id). */
export const READ_ONLY_ON_CREATE: ReadonlySet<string> = new Set([
  'status',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'size',
  'virtual_size',
  'created_at',
  'updated_at',
  'direct_url',
  'self',
  'file',
  'schema',
  'stores',
  'locations',
]);
/** And once it exists, its id neither. */
const READ_ONLY: ReadonlySet<string> = new Set([...READ_ONLY_ON_CREATE, 'id']);
const CORE = new Set([
  'name',
  'visibility',
  'protected',
  'os_hidden',
  'disk_format',
  'container_format',
  'min_disk',
  'min_ram',
  'owner',
  'tags',
]);
const QUEUED_ONLY = new Set(['disk_format', 'container_format']);

/** Extra property names Glance reserves for itself. */
export function isReservedProperty(name: string): boolean {
  return name.startsWith('os_glance');
}

/** Decodes a one-segment JSON pointer ("/foo~1bar" → "foo/bar"). */
export function pointerName(path: string): string {
  if (!path.startsWith('/') || path.length < 2)
    throw new BadRequest(`Invalid JSON pointer for this resource: '${path}'.`, 'image_bad_patch');
  const parts = path.slice(1).split('/');
  if (parts.length > 1)
    throw new BadRequest(`Nested paths are not allowed: '${path}'.`, 'image_bad_patch');
  if (/~[^01]|~$/.test(parts[0]!))
    throw new BadRequest(`Invalid JSON pointer escape in '${path}'.`, 'image_bad_patch');
  return parts[0]!.replaceAll('~1', '/').replaceAll('~0', '~');
}

function bad(message: string): never {
  throw new BadRequest(message, 'image_bad_patch');
}

function coreValue(name: string, v: unknown): unknown {
  switch (name) {
    case 'name':
      if (v !== null && (typeof v !== 'string' || v.length > 255))
        bad(`Invalid value for 'name': it must be a string of at most 255 characters, or null.`);
      return v;
    case 'visibility':
      if (!VISIBILITIES.includes(v as Visibility))
        bad(
          `Invalid value for 'visibility': ${JSON.stringify(v)} is not one of ${VISIBILITIES.join(', ')}.`,
        );
      return v;
    case 'protected':
    case 'os_hidden':
      if (typeof v !== 'boolean')
        bad(`Invalid value for '${name}': ${JSON.stringify(v)} is not of type 'boolean'.`);
      return v;
    case 'disk_format':
      if (v !== null && !DISK_FORMATS.includes(v as never))
        bad(
          `Invalid value for 'disk_format': ${JSON.stringify(v)} is not one of ${DISK_FORMATS.join(', ')}.`,
        );
      return v;
    case 'container_format':
      if (v !== null && !CONTAINER_FORMATS.includes(v as never))
        bad(
          `Invalid value for 'container_format': ${JSON.stringify(v)} is not one of ${CONTAINER_FORMATS.join(', ')}.`,
        );
      return v;
    case 'min_disk':
    case 'min_ram':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1)
        bad(`Invalid value for '${name}': it must be a non-negative integer.`);
      return v;
    case 'owner':
      if (v !== null && (typeof v !== 'string' || v.length > 255))
        bad(`Invalid value for 'owner': it must be a project id or null.`);
      return v;
    case 'tags':
      if (!Array.isArray(v) || v.some((t) => typeof t !== 'string' || t.length > 255))
        bad(`Invalid value for 'tags': it must be an array of strings of at most 255 characters.`);
      return [...new Set(v as string[])];
    default:
      return v;
  }
}

const CAMEL: Record<string, keyof ImageCore | 'owner'> = {
  name: 'name',
  visibility: 'visibility',
  protected: 'protected',
  os_hidden: 'osHidden',
  disk_format: 'diskFormat',
  container_format: 'containerFormat',
  min_disk: 'minDisk',
  min_ram: 'minRam',
  owner: 'owner',
};

export function applyImagePatch(
  img: Image,
  ops: readonly PatchOp[],
  who: { readonly isAdmin: boolean },
): PatchResult {
  const core: Record<string, unknown> = {};
  const props: Record<string, string> = { ...img.properties };
  let tags: string[] | undefined;
  for (const change of ops) {
    if (
      change === null ||
      typeof change !== 'object' ||
      typeof change.op !== 'string' ||
      typeof change.path !== 'string'
    ) {
      bad('Each change must be an object with "op" and "path" (and "value" for add and replace).');
    }
    if (!['add', 'replace', 'remove'].includes(change.op))
      bad(`Operation '${change.op}' is not supported; use add, replace or remove.`);
    const name = pointerName(change.path);
    if (change.op !== 'remove' && !('value' in change))
      bad(`Operation '${change.op}' on '${name}' needs a "value".`);
    if (READ_ONLY.has(name))
      throw new Forbidden(`Attribute '${name}' is read-only.`, 'image_read_only');
    if (isReservedProperty(name))
      throw new Forbidden(`Attribute '${name}' is reserved.`, 'image_reserved');
    if (CORE.has(name)) {
      if (change.op === 'remove')
        throw new Forbidden(
          `Properties ${name} cannot be removed; replace them with a new value instead.`,
          'image_core_remove',
        );
      if (QUEUED_ONLY.has(name) && img.status !== 'queued')
        throw new Forbidden(
          `Attribute ${name} can be only replaced for a queued image.`,
          'image_format_locked',
        );
      if (name === 'owner' && !who.isAdmin)
        throw new Forbidden(
          'Only an administrator may change the owner of an image.',
          'policy_denied',
        );
      const value = coreValue(name, change.value);
      if (name === 'tags') tags = value as string[];
      else core[CAMEL[name]!] = value;
      continue;
    }
    // An extra property: string-valued, as in Glance's schema.
    if (name.length > 255)
      bad(`Property name '${name.slice(0, 40)}…' is longer than 255 characters.`);
    if (change.op === 'remove') {
      if (!(name in props))
        throw new Conflict(`Property ${name} does not exist.`, 'image_property_missing');
      delete props[name];
      continue;
    }
    if (change.op === 'replace' && !(name in props))
      throw new Conflict(`Property ${name} does not exist.`, 'image_property_missing');
    if (typeof change.value !== 'string')
      bad(
        `Invalid value for '${name}': ${JSON.stringify(change.value)?.slice(0, 60)} is not of type 'string'.`,
      );
    if (change.value.length > 65535) bad(`Property '${name}' is longer than 65535 characters.`);
    props[name] = change.value;
  }
  const setProperties: Record<string, string> = {};
  for (const [k, v] of Object.entries(props)) if (img.properties[k] !== v) setProperties[k] = v;
  const removeProperties = Object.keys(img.properties).filter((k) => !(k in props));
  return {
    core: core as PatchResult['core'],
    setProperties,
    removeProperties,
    tags,
    next: { tags: tags ?? img.tags, properties: props },
  };
}
