// Issue 4 through openstacksdk: a Python program using Debian's python3-openstacksdk uploads,
// updates, lists, downloads, imports and deletes images on a real `nubes up`; its asserts check.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startNubes, removeDir, ROOT, type NubesProcess } from '../support/nubes-process.ts';
import { haveSdk, python } from '../support/python-sdk.ts';

describe(
  'openstacksdk image calls against nubes up',
  {
    skip: haveSdk() ? false : 'python3-openstacksdk is not installed (scripts/test.sh installs it)',
  },
  () => {
    let nubes: NubesProcess;
    before(async () => {
      nubes = await startNubes();
    });
    after(async () => {
      if (nubes) {
        await nubes.stop();
        removeDir(nubes.dataDir);
      }
    });

    it('create (upload), get, find, update, tags, paged list, download, stage+import, errors, delete', async () => {
      const r = await python(join(ROOT, 'test/e2e/sdk/image_flow.py'), [
        join(nubes.dataDir, 'clouds.yaml'),
        nubes.dataDir,
      ]);
      assert.equal(r.code, 0, `python exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
      assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!), {
        created: true,
        updated: true,
        downloaded: true,
        imported: true,
        errors: true,
      });
    });
  },
);
