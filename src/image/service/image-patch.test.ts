// The JSON-patch rules of image updates, op by op.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyImagePatch, pointerName } from './image-patch.ts';
import type { Image } from '../model.ts';

const img: Image = {
  id: 'i',
  name: 'n',
  status: 'active',
  visibility: 'private',
  protected: false,
  osHidden: false,
  owner: 'p',
  diskFormat: 'raw',
  containerFormat: 'bare',
  minDisk: 0,
  minRam: 0,
  size: 1,
  virtualSize: 1,
  checksum: null,
  osHashAlgo: null,
  osHashValue: null,
  location: null,
  stageKey: null,
  createdAt: 0,
  updatedAt: 0,
  tags: ['a'],
  properties: { os_distro: 'x', keep: 'y' },
};
const user = { isAdmin: false };

describe('image JSON patch', () => {
  it('applies ops in order and reports only the differences', () => {
    const r = applyImagePatch(
      img,
      [
        { op: 'add', path: '/os_distro', value: 'z' },
        { op: 'remove', path: '/os_distro' },
        { op: 'add', path: '/new', value: 'v' },
        { op: 'replace', path: '/name', value: null },
        { op: 'replace', path: '/tags', value: ['b', 'b'] },
      ],
      user,
    );
    assert.deepEqual(r.setProperties, { new: 'v' });
    assert.deepEqual(r.removeProperties, ['os_distro']);
    assert.deepEqual(r.core, { name: null });
    assert.deepEqual(r.tags, ['b']);
    assert.deepEqual(r.next.properties, { keep: 'y', new: 'v' });
  });
  it('decodes JSON pointer escapes and refuses nested paths', () => {
    assert.equal(pointerName('/a~1b~0c'), 'a/b~c');
    assert.throws(() => pointerName('/a/b'), /Nested paths/);
    assert.throws(() => pointerName('name'), /Invalid JSON pointer/);
    assert.throws(() => pointerName('/a~2'), /escape/);
  });
  it('refuses read-only, reserved and base-attribute removal with 403, missing properties with 409', () => {
    const status = (ops: any[]) => {
      try {
        applyImagePatch(img, ops, user);
        return 200;
      } catch (e: any) {
        return e.status;
      }
    };
    assert.equal(status([{ op: 'replace', path: '/size', value: 5 }]), 403);
    assert.equal(status([{ op: 'add', path: '/os_glance_import_task', value: 'x' }]), 403);
    assert.equal(status([{ op: 'remove', path: '/name' }]), 403);
    assert.equal(
      status([{ op: 'replace', path: '/disk_format', value: 'qcow2' }]),
      403,
      'formats change only while queued',
    );
    assert.equal(
      status([{ op: 'replace', path: '/owner', value: 'q' }]),
      403,
      'owner only by an admin',
    );
    assert.equal(status([{ op: 'remove', path: '/nope' }]), 409);
    assert.equal(status([{ op: 'replace', path: '/nope', value: 'x' }]), 409);
    assert.equal(status([{ op: 'replace', path: '/visibility', value: 'everyone' }]), 400);
    assert.equal(status([{ op: 'replace', path: '/min_ram', value: -1 }]), 400);
    assert.equal(status([{ op: 'replace', path: '/protected', value: 'yes' }]), 400);
    assert.equal(status([{ op: 'add', path: '/k' }]), 400, 'add needs a value');
    assert.equal(status([{ op: 'test', path: '/name', value: 'n' }]), 400);
    assert.deepEqual(
      applyImagePatch(img, [{ op: 'replace', path: '/owner', value: 'q' }], { isAdmin: true }).core,
      { owner: 'q' },
    );
  });
});
