// The config drive as a guest reads it: an ISO labelled config-2 whose openstack/latest holds the
// instance's metadata and its user data decoded from base64 (read back with xorriso).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfigDrive } from './config-drive.ts';
import { exec, haveCommand } from './exec.ts';

describe(
  'config drive',
  {
    skip:
      (await haveCommand('genisoimage')) && (await haveCommand('xorriso'))
        ? false
        : 'genisoimage or xorriso (which reads it back) is not installed (bin/nubes and scripts/test.sh install them)',
  },
  () => {
    it('holds meta_data.json and user_data under openstack/latest, labelled config-2', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'nubes-cd-'));
      try {
        const iso = join(dir, 'config.iso');
        await buildConfigDrive(iso, {
          uuid: 'u-1',
          name: 'web 1',
          hostname: 'web-1',
          projectId: 'p',
          availabilityZone: 'nova',
          launchIndex: 0,
          publicKeys: { k1: 'ssh-ed25519 AAAA k1' },
          meta: { role: 'web' },
          userData: Buffer.from('#!/bin/sh\necho hi\n').toString('base64'),
        });
        const label = await exec(['xorriso', '-indev', iso, '-pvd_info'], { timeoutMs: 30_000 });
        assert.match(label.stdout + label.stderr, /Volume Id\s*:\s*config-2/);
        await exec(
          [
            'xorriso',
            '-osirrox',
            'on',
            '-indev',
            iso,
            '-extract',
            '/openstack/latest',
            join(dir, 'out'),
          ],
          { timeoutMs: 30_000 },
        );
        const meta = JSON.parse(await readFile(join(dir, 'out', 'meta_data.json'), 'utf8'));
        assert.equal(meta.uuid, 'u-1');
        assert.equal(meta.hostname, 'web-1');
        assert.deepEqual(meta.public_keys, { k1: 'ssh-ed25519 AAAA k1' });
        assert.deepEqual(meta.keys, [{ name: 'k1', type: 'ssh', data: 'ssh-ed25519 AAAA k1' }]);
        assert.deepEqual(meta.meta, { role: 'web' });
        assert.equal(await readFile(join(dir, 'out', 'user_data'), 'utf8'), '#!/bin/sh\necho hi\n');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
