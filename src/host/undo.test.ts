// The undo stack: undos run last first when the work fails, none once it is kept, a failing undo
// neither hides the work's error nor stops the undos below it, and sub-steps' stacks nest.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Undo } from './undo.ts';

describe('Undo', () => {
  it("runs the undos last first when the work throws, and the error the caller sees is the work's", async () => {
    const done: string[] = [];
    const work = async () => {
      await using undo = new Undo();
      undo.push('a', () => done.push('undo a'));
      undo.push('b', async () => {
        await new Promise((r) => setTimeout(r, 5));
        done.push('undo b');
      });
      throw new Error('step c failed');
    };
    await assert.rejects(work(), /^Error: step c failed$/);
    assert.deepEqual(done, ['undo b', 'undo a']);
  });

  it('undoes nothing once kept, but what is pushed after keep is undone', async () => {
    const done: string[] = [];
    await (async () => {
      await using undo = new Undo();
      undo.push('a', () => done.push('undo a'));
      undo.keep();
    })();
    assert.equal(done.length, 0, 'nothing undone');
    await assert.rejects(
      (async () => {
        await using undo = new Undo();
        undo.push('a', () => done.push('undo a'));
        undo.keep();
        undo.push('b', () => done.push('undo b'));
        throw new Error('later step failed');
      })(),
      /later step failed/,
    );
    assert.deepEqual(done, ['undo b']);
  });

  it('reports a failing undo and still runs the ones below it', async () => {
    const done: string[] = [];
    const failed: string[] = [];
    await assert.rejects(
      (async () => {
        await using undo = new Undo({
          onFailure: (what, e) => failed.push(`${what}: ${(e as Error).message}`),
        });
        undo.push('remove the disk', () => done.push('disk removed'));
        undo.push('stop the process', () => {
          throw new Error('no such process');
        });
        throw new Error('the work failed');
      })(),
      /^Error: the work failed$/,
    );
    assert.deepEqual(failed, ['stop the process: no such process']);
    assert.deepEqual(done, ['disk removed']);
  });

  it("adopts a sub-step's undos as one step, in their own order, and empties the sub-stack", async () => {
    const done: string[] = [];
    const outer = new Undo();
    outer.push('outer 1', () => done.push('outer 1'));
    const inner = new Undo();
    inner.push('inner 1', () => done.push('inner 1'));
    inner.push('inner 2', () => done.push('inner 2'));
    outer.adopt(inner);
    outer.push('outer 2', () => done.push('outer 2'));
    await inner.undo();
    assert.equal(done.length, 0, 'the adopted undos left the sub-stack');
    await outer.undo();
    assert.deepEqual(done, ['outer 2', 'inner 2', 'inner 1', 'outer 1']);
    await outer.undo();
    assert.equal(done.length, 4, 'each undo runs once');
  });
});
