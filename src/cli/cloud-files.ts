// Writes what a user needs to reach the cloud: <data-dir>/clouds.yaml (openstacksdk's format, a
// cloud named `nubes`) and <data-dir>/openrc, both readable by the owner only.
import { writeFileSync, readFileSync, existsSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const CLOUD_NAME = 'nubes';

export interface CloudFiles {
  readonly cloudsYaml: string;
  readonly openrc: string;
}

/** The admin password: from config on first start, else generated once and kept in the data dir. */
export function adminPassword(dataDir: string, configured: string | null): string {
  const file = join(dataDir, 'admin-password');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const pw = configured ?? randomBytes(18).toString('base64url');
  writeFileSync(file, `${pw}\n`, { mode: 0o600 });
  return pw;
}

export function writeCloudFiles(
  dataDir: string,
  o: { publicUrl: string; region: string; password: string },
): CloudFiles {
  const authUrl = `${o.publicUrl}/identity/v3`;
  const clouds = {
    clouds: {
      [CLOUD_NAME]: {
        auth: {
          auth_url: authUrl,
          username: 'admin',
          password: o.password,
          project_name: 'admin',
          user_domain_name: 'Default',
          project_domain_name: 'Default',
        },
        region_name: o.region,
        interface: 'public',
        identity_api_version: 3,
      },
    },
  };
  const cloudsYaml = join(dataDir, 'clouds.yaml');
  writeFileSync(
    cloudsYaml,
    `# Written by nubes up. Use with: export OS_CLIENT_CONFIG_FILE=${cloudsYaml} OS_CLOUD=${CLOUD_NAME}\n${stringify(clouds)}`,
    { mode: 0o600 },
  );
  chmodSync(cloudsYaml, 0o600);
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const openrc = join(dataDir, 'openrc');
  writeFileSync(
    openrc,
    [
      '# Written by nubes up. Load with: . ' + openrc,
      `export OS_AUTH_URL=${q(authUrl)}`,
      'export OS_USERNAME=admin',
      `export OS_PASSWORD=${q(o.password)}`,
      'export OS_PROJECT_NAME=admin',
      'export OS_USER_DOMAIN_NAME=Default',
      'export OS_PROJECT_DOMAIN_NAME=Default',
      `export OS_REGION_NAME=${q(o.region)}`,
      'export OS_IDENTITY_API_VERSION=3',
      'export OS_INTERFACE=public',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  chmodSync(openrc, 0o600);
  return { cloudsYaml, openrc };
}
