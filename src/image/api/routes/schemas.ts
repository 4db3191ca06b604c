// /v2/schemas/*: the JSON Schema documents Glance publishes for its resources (python-glanceclient
// reads them to build its commands). Generated from the same vocabularies the API enforces.
import type { Api } from '../../../platform/http/mount.ts';
import {
  CONTAINER_FORMATS,
  DISK_FORMATS,
  IMAGE_STATUS_LIST,
  MEMBER_STATUSES,
  TASK_STATUSES,
  VISIBILITIES,
} from '../../model.ts';

const nullable = (type: string, extra: Record<string, unknown> = {}) => ({
  type: [type, 'null'],
  ...extra,
});
const readOnly = (type: unknown, description: string) => ({ type, readOnly: true, description });

export const imageSchema = {
  name: 'image',
  properties: {
    id: {
      type: 'string',
      pattern:
        '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
      description: 'An identifier for the image',
    },
    name: nullable('string', { maxLength: 255, description: 'Descriptive name for the image' }),
    status: {
      type: 'string',
      readOnly: true,
      enum: IMAGE_STATUS_LIST,
      description: 'Status of the image',
    },
    visibility: { type: 'string', enum: VISIBILITIES, description: 'Scope of image accessibility' },
    protected: { type: 'boolean', description: 'If true, image will not be deletable.' },
    os_hidden: {
      type: 'boolean',
      description: 'If true, image will not appear in default image list response.',
    },
    checksum: readOnly(['null', 'string'], 'md5 hash of image contents.'),
    os_hash_algo: readOnly(['null', 'string'], 'Algorithm to calculate the os_hash_value'),
    os_hash_value: readOnly(
      ['null', 'string'],
      'Hexdigest of the image contents using the algorithm specified by the os_hash_algo',
    ),
    owner: nullable('string', { maxLength: 255, description: 'Owner of the image' }),
    size: readOnly(['null', 'integer'], 'Size of image file in bytes'),
    virtual_size: readOnly(['null', 'integer'], 'Virtual size of image in bytes'),
    container_format: {
      type: ['null', 'string'],
      enum: [null, ...CONTAINER_FORMATS],
      description: 'Format of the container',
    },
    disk_format: {
      type: ['null', 'string'],
      enum: [null, ...DISK_FORMATS],
      description: 'Format of the disk',
    },
    created_at: readOnly('string', 'Date and time of image registration'),
    updated_at: readOnly('string', 'Date and time of the last image modification'),
    tags: {
      type: 'array',
      items: { type: 'string', maxLength: 255 },
      description: 'List of strings related to the image',
    },
    direct_url: readOnly('string', 'URL to access the image file kept in external store'),
    min_ram: { type: 'integer', description: 'Amount of ram (in MB) required to boot image.' },
    min_disk: {
      type: 'integer',
      description: 'Amount of disk space (in GB) required to boot image.',
    },
    self: readOnly('string', 'An image self url'),
    file: readOnly('string', 'An image file url'),
    schema: readOnly('string', 'An image schema url'),
    kernel_id: nullable('string', {
      pattern:
        '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
      description:
        'ID of image stored in Glance that should be used as the kernel when booting an AMI-style image.',
      is_base: false,
    }),
    ramdisk_id: nullable('string', {
      pattern:
        '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
      description:
        'ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image.',
      is_base: false,
    }),
    os_distro: {
      type: 'string',
      description: 'Common name of operating system distribution',
      is_base: false,
    },
    os_version: {
      type: 'string',
      description: 'Operating system version as specified by the distributor',
      is_base: false,
    },
  },
  additionalProperties: { type: 'string' },
  links: [
    { rel: 'self', href: '{self}' },
    { rel: 'enclosure', href: '{file}' },
    { rel: 'describedby', href: '{schema}' },
  ],
};

const memberSchema = {
  name: 'member',
  properties: {
    created_at: { type: 'string', description: 'Date and time of image member creation' },
    image_id: { type: 'string', description: 'An identifier for the image' },
    member_id: { type: 'string', description: 'An identifier for the image member (tenantId)' },
    status: {
      type: 'string',
      enum: MEMBER_STATUSES,
      description: 'The status of this image member',
    },
    updated_at: {
      type: 'string',
      description: 'Date and time of last modification of image member',
    },
    schema: { type: 'string', readOnly: true },
  },
};

const taskSchema = {
  name: 'task',
  properties: {
    id: { type: 'string', description: 'An identifier for the task' },
    type: {
      type: 'string',
      enum: ['import', 'api_image_import'],
      description: 'The type of task represented by this content',
    },
    status: { type: 'string', enum: TASK_STATUSES, description: 'The current status of this task' },
    input: { type: ['null', 'object'], description: 'The parameters required by task, JSON blob' },
    result: { type: ['null', 'object'], description: 'The result of current task, JSON blob' },
    owner: { type: 'string', description: 'An identifier for the owner of this task' },
    message: {
      type: 'string',
      description:
        'Human-readable informative message only included when appropriate (usually on failure)',
    },
    image_id: { type: 'string', readOnly: true, description: 'Image associated with the task' },
    expires_at: {
      type: ['null', 'string'],
      description: 'Datetime when this resource would be subject to removal',
    },
    created_at: { type: 'string', description: 'Datetime when this resource was created' },
    updated_at: { type: 'string', description: 'Datetime when this resource was updated' },
    self: { type: 'string', readOnly: true },
    schema: { type: 'string', readOnly: true },
  },
};

const collection = (name: string, item: unknown) => ({
  name,
  properties: {
    [name]: { type: 'array', items: item },
    schema: { type: 'string' },
    first: { type: 'string' },
    next: { type: 'string' },
  },
  links: [
    { rel: 'first', href: '{first}' },
    { rel: 'next', href: '{next}' },
    { rel: 'describedby', href: '{schema}' },
  ],
});

export function schemaRoutes(app: Api): void {
  app.get('/schemas/image', async () => imageSchema);
  app.get('/schemas/images', async () => collection('images', imageSchema));
  app.get('/schemas/member', async () => memberSchema);
  app.get('/schemas/members', async () => ({
    name: 'members',
    properties: { members: { type: 'array', items: memberSchema }, schema: { type: 'string' } },
    links: [{ rel: 'describedby', href: '{schema}' }],
  }));
  app.get('/schemas/task', async () => taskSchema);
  app.get('/schemas/tasks', async () =>
    collection('tasks', { name: 'task', properties: taskSchema.properties }),
  );
}
