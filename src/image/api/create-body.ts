// Reads the body of POST /v2/images the way Glance's image schema does: known attributes with their
// types, read-only and reserved names refused, every other key an extra property with a string value.
import { BadRequest, Forbidden } from '../../platform/errors.ts';
import { CONTAINER_FORMATS, DISK_FORMATS, VISIBILITIES, type Visibility } from '../model.ts';
import type { NewImageInput } from '../service/images.ts';
import { isReservedProperty, READ_ONLY_ON_CREATE } from '../service/image-patch.ts';

const UUID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

const bad = (message: string): never => {
  throw new BadRequest(message, 'image_bad_request');
};
const typeError = (key: string, v: unknown, type: string): never =>
  bad(
    `Provided object does not match schema 'image': ${JSON.stringify(v)?.slice(0, 80)} is not of type ${type} for '${key}'.`,
  );

function str(key: string, v: unknown, max: number, nullable = true): string | null {
  if (v === null && nullable) return null;
  if (typeof v !== 'string') return typeError(key, v, nullable ? "'string', 'null'" : "'string'");
  if (v.length > max)
    bad(
      `Provided object does not match schema 'image': '${key}' is longer than ${max} characters.`,
    );
  return v;
}

function enumOf<T extends string>(
  key: string,
  v: unknown,
  values: readonly T[],
  nullable: boolean,
): T | null {
  if (v === null && nullable) return null;
  if (!values.includes(v as T))
    bad(
      `Provided object does not match schema 'image': ${JSON.stringify(v)} is not one of ${values.join(', ')} for '${key}'.`,
    );
  return v as T;
}

function nonNegative(key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) return typeError(key, v, "'integer'");
  if (v < 0 || v > 2 ** 31 - 1)
    bad(
      `Provided object does not match schema 'image': '${key}' must be between 0 and ${2 ** 31 - 1}.`,
    );
  return v;
}

export function parseCreateBody(body: Readonly<Record<string, unknown>>): NewImageInput {
  const out: Record<string, unknown> = {};
  const properties: Record<string, string> = {};
  let tags: string[] = [];
  for (const [key, v] of Object.entries(body)) {
    if (READ_ONLY_ON_CREATE.has(key))
      throw new Forbidden(`Attribute '${key}' is read-only.`, 'image_read_only');
    if (isReservedProperty(key))
      throw new Forbidden(`Attribute '${key}' is reserved.`, 'image_reserved');
    switch (key) {
      case 'id': {
        if (typeof v !== 'string' || !UUID.test(v))
          bad(
            `Provided object does not match schema 'image': ${JSON.stringify(v)?.slice(0, 80)} is not a valid UUID for 'id'.`,
          );
        const hex = (v as string).replaceAll('-', '').toLowerCase();
        out['id'] =
          `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
        break;
      }
      case 'name':
        out['name'] = str(key, v, 255);
        break;
      case 'owner':
        out['owner'] = str(key, v, 255);
        break;
      case 'visibility':
        out['visibility'] = enumOf<Visibility>(key, v, VISIBILITIES, false);
        break;
      case 'disk_format':
        out['diskFormat'] = enumOf(key, v, DISK_FORMATS, true);
        break;
      case 'container_format':
        out['containerFormat'] = enumOf(key, v, CONTAINER_FORMATS, true);
        break;
      case 'protected':
        if (typeof v !== 'boolean') typeError(key, v, "'boolean'");
        out['protected'] = v;
        break;
      case 'os_hidden':
        if (typeof v !== 'boolean') typeError(key, v, "'boolean'");
        out['osHidden'] = v;
        break;
      case 'min_disk':
        out['minDisk'] = nonNegative(key, v);
        break;
      case 'min_ram':
        out['minRam'] = nonNegative(key, v);
        break;
      case 'tags':
        if (!Array.isArray(v) || v.some((t) => typeof t !== 'string'))
          typeError(key, v, "'array' of strings");
        if ((v as string[]).some((t) => t.length > 255))
          bad(
            "Provided object does not match schema 'image': a tag is longer than 255 characters.",
          );
        tags = [...new Set(v as string[])];
        break;
      default:
        if (key.length > 255)
          bad(`Property name '${key.slice(0, 40)}…' is longer than 255 characters.`);
        if (typeof v !== 'string') typeError(key, v, "'string'");
        if ((v as string).length > 65535) bad(`Property '${key}' is longer than 65535 characters.`);
        properties[key] = v as string;
    }
  }
  return { ...out, properties, tags } as NewImageInput;
}
