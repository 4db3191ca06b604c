// The behaviour every Bus implementation must show, run by memory.test.ts and amqp.test.ts.
// Targets and topics are unique per test, so suites can share one broker.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Bus, JsonValue } from './bus.ts';
import { Conflict } from '../errors.ts';

/** Resolves once `check` holds, polling; rejects after `ms`. */
async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function busContract(name: string, open: () => Promise<Bus>, skip?: string): void {
  describe(`bus contract: ${name}`, { skip: skip ?? false }, () => {
    let bus: Bus;
    let other: Bus;
    const unique = (what: string) => `test-${what}-${randomUUID().slice(0, 8)}`;

    before(async () => {
      bus = await open();
      other = await open();
    });
    after(async () => {
      await bus?.close();
      await other?.close();
    });

    it('a call reaches the server and resolves with its reply, as a copy', async () => {
      const target = unique('echo');
      const seen: JsonValue[] = [];
      const sub = await other.serve(target, async (method, payload) => {
        seen.push(payload);
        return { method, got: payload };
      });
      const sent = { n: 1, list: [1, 'two', null], nested: { ok: true } };
      const reply = await bus.call(target, 'echo', sent, { timeoutMs: 5000 });
      assert.deepEqual(reply, { method: 'echo', got: sent });
      assert.notEqual(seen[0], sent, "the server must get a copy, not the sender's object");
      await sub.close();
    });

    it('a handler that returns nothing replies null', async () => {
      const target = unique('void');
      const sub = await other.serve(target, async () => undefined);
      assert.equal(await bus.call(target, 'noop', null, { timeoutMs: 5000 }), null);
      await sub.close();
    });

    it('a call nobody serves fails with bus_timeout naming the target', async () => {
      const target = unique('nobody');
      await assert.rejects(
        bus.call(target, 'ping', {}, { timeoutMs: 200 }),
        (e: Error & { code?: string; status?: number }) => {
          assert.equal(e.code, 'bus_timeout');
          assert.equal(e.status, 504);
          assert.match(e.message, new RegExp(target));
          return true;
        },
      );
    });

    it('a call that timed out is not run by a server that starts later', async () => {
      const target = unique('late');
      await assert.rejects(bus.call(target, 'ping', {}, { timeoutMs: 100 }));
      await sleep(150);
      let ran = 0;
      const sub = await other.serve(target, async () => {
        ran++;
        return null;
      });
      // A fresh call proves the server is live; the stale one must not have reached it.
      await bus.call(target, 'ping', {}, { timeoutMs: 5000 });
      assert.equal(ran, 1);
      await sub.close();
    });

    it('an expected error reaches the caller with its code, status, message and fields', async () => {
      const target = unique('fail');
      const sub = await other.serve(target, async (method) => {
        if (method === 'conflict')
          throw new Conflict('the disk is attached', 'volume_in_use', { volumeId: 'v1' });
        throw new Error('kaboom');
      });
      await assert.rejects(
        bus.call(target, 'conflict', {}, { timeoutMs: 5000 }),
        (e: Error & { code?: string; status?: number; fields?: unknown }) => {
          assert.equal(e.code, 'volume_in_use');
          assert.equal(e.status, 409);
          assert.equal(e.message, 'the disk is attached');
          assert.deepEqual(e.fields, { volumeId: 'v1' });
          return true;
        },
      );
      await assert.rejects(
        bus.call(target, 'other', {}, { timeoutMs: 5000 }),
        (e: Error & { code?: string; status?: number }) => {
          assert.equal(e.code, 'remote_error');
          assert.equal(e.status, 500);
          assert.match(e.message, /kaboom/);
          return true;
        },
      );
      await sub.close();
    });

    it('many concurrent calls each get their own reply', async () => {
      const target = unique('many');
      const sub = await other.serve(target, async (_m, p) => {
        await sleep(Math.random() * 5);
        return { double: (p as { n: number }).n * 2 };
      });
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, n) =>
          bus.call(target, 'double', { n }, { timeoutMs: 10_000 }),
        ),
      );
      assert.deepEqual(
        replies,
        Array.from({ length: 200 }, (_, n) => ({ double: n * 2 })),
      );
      await sub.close();
    });

    it('competing servers share the calls and each call runs exactly once', async () => {
      const target = unique('compete');
      const ran: Record<string, number[]> = { a: [], b: [] };
      const serve = (who: 'a' | 'b') => async (_m: string, p: JsonValue) => {
        ran[who]!.push((p as { n: number }).n);
        await sleep(2);
        return who;
      };
      const a = await other.serve(target, serve('a'));
      const b = await bus.serve(target, serve('b'));
      await Promise.all(
        Array.from({ length: 60 }, (_, n) =>
          bus.call(target, 'work', { n }, { timeoutMs: 10_000 }),
        ),
      );
      const all = [...ran.a!, ...ran.b!].sort((x, y) => x - y);
      assert.deepEqual(
        all,
        Array.from({ length: 60 }, (_, n) => n),
      );
      assert.ok(
        ran.a!.length > 0 && ran.b!.length > 0,
        `both servers must get work (a=${ran.a!.length}, b=${ran.b!.length})`,
      );
      await a.close();
      await b.close();
    });

    it('a cast sent before anyone serves is delivered once a server starts', async () => {
      const target = unique('queued');
      await bus.cast(target, 'later', { n: 1 });
      await bus.cast(target, 'later', { n: 2 });
      const got: JsonValue[] = [];
      const sub = await other.serve(target, async (method, payload) => {
        got.push({ method, payload });
      });
      await until(() => got.length === 2);
      assert.deepEqual(
        got.sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
        [
          { method: 'later', payload: { n: 1 } },
          { method: 'later', payload: { n: 2 } },
        ],
      );
      await sub.close();
    });

    it('a closed server gets no more messages', async () => {
      const target = unique('closed');
      let ran = 0;
      const sub = await other.serve(target, async () => {
        ran++;
        return null;
      });
      await bus.call(target, 'one', {}, { timeoutMs: 5000 });
      await sub.close();
      await sub.close(); // idempotent
      await assert.rejects(bus.call(target, 'two', {}, { timeoutMs: 200 }), {
        code: 'bus_timeout',
      });
      assert.equal(ran, 1);
    });

    it('notifications reach every subscriber; a group shares them', async () => {
      const topic = unique('events');
      const plain: string[][] = [[], []];
      const grouped: string[][] = [[], []];
      const subs = [
        await bus.subscribe(topic, (e) => {
          plain[0]!.push(e);
        }),
        await other.subscribe(topic, (e) => {
          plain[1]!.push(e);
        }),
        await bus.subscribe(
          topic,
          (e) => {
            grouped[0]!.push(e);
          },
          { group: 'meter' },
        ),
        await other.subscribe(
          topic,
          (e) => {
            grouped[1]!.push(e);
          },
          { group: 'meter' },
        ),
      ];
      const events = Array.from({ length: 20 }, (_, i) => `e${i}`);
      for (const e of events) await other.notify(topic, e, { at: e });
      await until(
        () =>
          plain[0]!.length === 20 &&
          plain[1]!.length === 20 &&
          grouped[0]!.length + grouped[1]!.length === 20,
      );
      await sleep(100); // nothing more may arrive
      assert.deepEqual([...plain[0]!].sort(), [...events].sort());
      assert.deepEqual([...plain[1]!].sort(), [...events].sort());
      assert.deepEqual(
        [...grouped[0]!, ...grouped[1]!].sort(),
        [...events].sort(),
        'each event reaches exactly one group member',
      );
      for (const s of subs) await s.close();
    });

    it('a notification carries its payload, and a closed subscription hears nothing more', async () => {
      const topic = unique('payload');
      const got: JsonValue[] = [];
      const sub = await other.subscribe(topic, (event, payload) => {
        got.push({ event, payload });
      });
      await bus.notify(topic, 'instance.create.end', { id: 'i1', flavor: { vcpus: 1 } });
      await until(() => got.length === 1);
      assert.deepEqual(got[0], {
        event: 'instance.create.end',
        payload: { id: 'i1', flavor: { vcpus: 1 } },
      });
      await sub.close();
      await bus.notify(topic, 'instance.delete.end', { id: 'i1' });
      await sleep(150);
      assert.equal(got.length, 1);
    });

    it('a failing notification handler does not stop later deliveries', async () => {
      const topic = unique('throws');
      let calls = 0;
      const sub = await other.subscribe(topic, () => {
        calls++;
        throw new Error('handler bug');
      });
      await bus.notify(topic, 'a', null);
      await bus.notify(topic, 'b', null);
      await until(() => calls === 2);
      await sub.close();
    });

    it('close rejects waiting calls with bus_closed, and later use fails the same way', async () => {
      const mine = await open();
      const target = unique('hang');
      const sub = await other.serve(
        target,
        () =>
          new Promise(() => {
            /* never answers */
          }),
      );
      const waiting = assert.rejects(mine.call(target, 'hang', {}, { timeoutMs: 10_000 }), {
        code: 'bus_closed',
      });
      await sleep(50);
      await mine.close();
      await waiting;
      await assert.rejects(mine.call(target, 'x', {}), { code: 'bus_closed' });
      await assert.rejects(mine.cast(target, 'x', {}), { code: 'bus_closed' });
      await assert.rejects(mine.notify('t', 'x', {}), { code: 'bus_closed' });
      await mine.close(); // idempotent
      await sub.close();
    });
  });
}
