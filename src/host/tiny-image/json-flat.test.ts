// Tests of guest/json-flat.awk, the guest's JSON reader, run with the host's busybox awk (the same
// awk the guest has) on a Nova-shaped meta_data.json.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { exec } from '../exec.ts';
import { GUEST_DIR } from './initramfs.ts';

const BUSYBOX = '/bin/busybox';
const skip = !existsSync(BUSYBOX) && 'busybox is not installed (/bin/busybox)';

async function flat(json: string): Promise<Map<string, string>> {
  const { stdout } = await exec([BUSYBOX, 'awk', '-f', `${GUEST_DIR}json-flat.awk`], {
    input: json,
  });
  const out = new Map<string, string>();
  for (const line of stdout.split('\n').filter(Boolean)) {
    const tab = line.indexOf('\t');
    out.set(line.slice(0, tab), line.slice(tab + 1));
  }
  return out;
}

test(
  'flattens Nova meta_data.json: top-level fields, nested meta, public_keys with odd names, keys[]',
  { skip },
  async () => {
    const doc = {
      uuid: 'd8e02d56-2648-415b-aa82-7a6a5e1c7f2a',
      meta: { hostname: 'not-this-one', role: 'web server' },
      public_keys: {
        'my key+/x': 'ssh-ed25519 AAAAC3Nza+/C1lZDI1NTE5 me@host\n',
        other: 'ssh-rsa AAAAB3Nz== x',
      },
      keys: [
        { name: 'my key+/x', type: 'ssh', data: 'ssh-ed25519 AAAAC3Nza+/C1lZDI1NTE5 me@host\n' },
      ],
      hostname: 'vm-1.novalocal',
      name: 'vm 1',
      launch_index: 0,
      availability_zone: null,
      random_seed: 'ab+/==',
      devices: [],
      project_id: 'p"q\\r',
      note: 'tab\there \u00e9 \u0041',
      raw: 'caf\u00e9',
    };
    // JSON.stringify leaves é as UTF-8: escape it in `note` only, to test both spellings.
    const f = await flat(JSON.stringify(doc).replace('here \u00e9', 'here \\u00e9'));
    assert.equal(f.get('uuid'), doc.uuid);
    assert.equal(f.get('hostname'), 'vm-1.novalocal');
    assert.equal(f.get('name'), 'vm 1');
    assert.equal(f.get('meta/hostname'), 'not-this-one');
    assert.equal(f.get('meta/role'), 'web server');
    assert.equal(f.get('public_keys/my key+/x'), 'ssh-ed25519 AAAAC3Nza+/C1lZDI1NTE5 me@host');
    assert.equal(f.get('public_keys/other'), 'ssh-rsa AAAAB3Nz== x');
    assert.equal(f.get('keys/0/data'), 'ssh-ed25519 AAAAC3Nza+/C1lZDI1NTE5 me@host');
    assert.equal(f.get('launch_index'), '0');
    assert.equal(f.has('availability_zone'), false);
    assert.equal(f.get('project_id'), 'p"q\\r');
    assert.equal(f.get('note'), 'tab here ? A');
    assert.equal(f.get('raw'), 'caf\u00e9');
  },
);

test('pretty-printed JSON gives the same leaves as compact JSON', { skip }, async () => {
  const doc = {
    hostname: 'a',
    public_keys: { k: 'ssh-ed25519 AAAA x' },
    list: [1, [2, 3], { b: true }],
  };
  const compact = await flat(JSON.stringify(doc));
  assert.deepEqual(await flat(JSON.stringify(doc, null, 4)), compact);
  assert.equal(compact.get('list/1/1'), '3');
  assert.equal(compact.get('list/2/b'), 'true');
});

test('garbage yields no lines instead of hanging', { skip }, async () => {
  assert.equal((await flat('<html>502 Bad Gateway</html>')).size, 0);
  assert.equal((await flat('')).size, 0);
});
