// hidePaths: host paths out of words a tenant may read.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { hidePaths } from './hide-paths.ts';

it('replaces known paths by their label and any other absolute path by "a file"', () => {
  const said =
    "qemu-img: Could not open '/var/lib/nubes/images/0f3a': Invalid footer; see /etc/nubes/x.yaml";
  assert.equal(
    hidePaths(said, { '/var/lib/nubes/images/0f3a': 'the image' }),
    "qemu-img: Could not open 'the image': Invalid footer; see a file",
  );
  assert.equal(
    hidePaths("ENOENT: no such file or directory, open '/tmp/nubes-x/.tmp-ab12'"),
    "ENOENT: no such file or directory, open 'a file'",
  );
});

it('leaves words without paths, ratios and URLs alone', () => {
  for (const s of [
    'not enough resources on this host for 2 vCPU / 2048 MB',
    'converting 3/100%',
    'see http://cloud.example.com/v2/images',
  ])
    assert.equal(hidePaths(s), s);
});
