// Issue 5 through openstacksdk: a Python program using Debian's python3-openstacksdk creates and
// waits for servers, lists and updates them, runs actions, places a group, handles errors and
// deletes, on a real `nubes up` with two fake hosts; its asserts check.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startNubes, removeDir, ROOT, type NubesProcess } from '../support/nubes-process.ts';
import { haveSdk, python } from '../support/python-sdk.ts';

describe(
  'openstacksdk server calls against nubes up',
  {
    skip: haveSdk() ? false : 'python3-openstacksdk is not installed (scripts/test.sh installs it)',
  },
  () => {
    let nubes: NubesProcess;
    before(async () => {
      nubes = await startNubes({ args: ['--virt-driver', 'fake', '--fake-hosts', '2'] });
    });
    after(async () => {
      if (nubes) {
        await nubes.stop();
        removeDir(nubes.dataDir);
      }
    });

    it('create_server with wait, get, list, update, metadata, actions, groups, errors, delete', async () => {
      const r = await python(join(ROOT, 'test/e2e/sdk/server_flow.py'), [
        join(nubes.dataDir, 'clouds.yaml'),
        nubes.dataDir,
      ]);
      assert.equal(r.code, 0, `python exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
      assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!), {
        created: true,
        listed: true,
        actions: true,
        groups: true,
        errors: true,
        deleted: true,
      });
    });
  },
);
