// Issue 3 through openstacksdk: a Python program using Debian's python3-openstacksdk drives a real
// `nubes up` (SQLite, and PostgreSQL when available); its own asserts do the checking.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startNubes, removeDir, ROOT, type NubesProcess } from '../support/nubes-process.ts';
import { databaseVariants } from '../support/databases.ts';
import { haveSdk, python } from '../support/python-sdk.ts';

for (const variant of await databaseVariants()) {
  describe(
    `openstacksdk against nubes up (${variant.name})`,
    {
      skip: haveSdk()
        ? false
        : 'python3-openstacksdk is not installed (scripts/test.sh installs it)',
    },
    () => {
      let nubes: NubesProcess;
      before(async () => {
        nubes = await startNubes({ args: variant.args });
      });
      after(async () => {
        if (nubes) {
          await nubes.stop();
          removeDir(nubes.dataDir);
        }
        await variant.cleanup();
      });

      it('the identity flow of issue 3 passes through the SDK', async () => {
        const r = await python(join(ROOT, 'test/e2e/sdk/identity_flow.py'), [
          join(nubes.dataDir, 'clouds.yaml'),
        ]);
        assert.equal(r.code, 0, `python exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
        const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
        assert.deepEqual(
          summary.services,
          ['compute', 'identity', 'image'],
          'the catalog lists every service nubes serves',
        );
        assert.equal(summary.reader_denied, 7);
        assert.equal(summary.appcred_project, true);
      });
    },
  );
}
