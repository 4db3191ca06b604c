// The config drive Nova gives guests: an ISO 9660 image labelled `config-2` with the OpenStack
// metadata layout (openstack/<version>/meta_data.json, user_data, network_data.json,
// vendor_data.json), built with genisoimage, as Nova builds it. Cloud-init, and the
// nubes-tiny guest, read it before any network is up.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { exec } from './exec.ts';

export interface ConfigDriveContent {
  readonly uuid: string;
  readonly name: string;
  readonly hostname: string;
  readonly projectId: string;
  readonly availabilityZone: string | null;
  readonly launchIndex: number;
  readonly publicKeys: Readonly<Record<string, string>>;
  readonly meta: Readonly<Record<string, string>>;
  /** The user data as the API received it: base64. */
  readonly userData: string | null;
  readonly networkData?: unknown;
}

/** The metadata versions written, as Nova writes them (the guest takes the newest it knows). */
const VERSIONS = [
  '2012-08-10',
  '2013-04-04',
  '2013-10-17',
  '2015-10-15',
  '2016-06-30',
  '2016-10-06',
  '2017-02-22',
  '2018-08-27',
  '2020-10-14',
  'latest',
];

export function metaData(c: ConfigDriveContent): Record<string, unknown> {
  return {
    uuid: c.uuid,
    name: c.name,
    hostname: c.hostname,
    project_id: c.projectId,
    launch_index: c.launchIndex,
    availability_zone: c.availabilityZone,
    meta: { ...c.meta },
    public_keys: { ...c.publicKeys },
    keys: Object.entries(c.publicKeys).map(([name, data]) => ({ name, type: 'ssh', data })),
    devices: [],
    random_seed: randomBytes(512).toString('base64'),
  };
}

/** Writes the config drive ISO to `path`. */
export async function buildConfigDrive(path: string, c: ConfigDriveContent): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'nubes-config-drive-'));
  try {
    const meta = JSON.stringify(metaData(c));
    for (const v of VERSIONS) {
      const d = join(root, 'openstack', v);
      await mkdir(d, { recursive: true });
      await writeFile(join(d, 'meta_data.json'), meta);
      await writeFile(join(d, 'vendor_data.json'), '{}');
      await writeFile(join(d, 'vendor_data2.json'), '{}');
      await writeFile(
        join(d, 'network_data.json'),
        JSON.stringify(c.networkData ?? { links: [], networks: [], services: [] }),
      );
      if (c.userData !== null)
        await writeFile(join(d, 'user_data'), Buffer.from(c.userData, 'base64'));
    }
    // genisoimage, not xorriso: xorriso's main thread waits in 100 ms steps for its writer (up to
    // about a second), which a boot feels; genisoimage writes a config drive in milliseconds.
    await exec(['genisoimage', '-quiet', '-o', path, '-V', 'config-2', '-J', '-r', root], {
      timeoutMs: 60_000,
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
