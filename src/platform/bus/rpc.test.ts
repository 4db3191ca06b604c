// The typed rpc helper over the memory bus: parsed requests at the server, parsed replies at the
// caller, unknown methods and handler tables that do not match the protocol refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryBus, MemoryHub } from './memory.ts';
import { call, cast, rpcClient, serveRpc, type Handlers } from './rpc.ts';
import { fields, nothing } from './wire.ts';
import type { JsonValue } from './bus.ts';

interface Sum {
  readonly a: number;
  readonly b: number;
}
const parseSum = (v: JsonValue): Sum => {
  const f = fields(v, 'sum request');
  return { a: f.count('a'), b: f.count('b') };
};
const parseTotal = (v: JsonValue): { total: number } => ({
  total: fields(v, 'sum reply').count('total'),
});
const parseNote = (v: JsonValue): { text: string } => ({
  text: fields(v, 'note').string('text'),
});

const MATHS = {
  sum: call(parseSum, parseTotal, { timeoutMs: 2000 }),
  reset: call((v) => fields(v, 'reset').raw && {}, nothing),
  note: cast(parseNote),
} as const;

function pair() {
  const hub = new MemoryHub();
  return { server: createMemoryBus({ hub }), client: createMemoryBus({ hub }) };
}

describe('typed rpc', () => {
  it('calls with a parsed request and answers with a parsed reply', async () => {
    const { server, client } = pair();
    const notes: string[] = [];
    let seen: Sum | undefined;
    await serveRpc(server, 'maths', MATHS, {
      sum: (r) => {
        seen = r;
        return { total: r.a + r.b };
      },
      reset: () => undefined,
      note: (r) => {
        notes.push(r.text);
      },
    });
    const c = rpcClient(client, 'maths', MATHS);
    const r = await c.call('sum', { a: 2, b: 3 });
    assert.deepEqual(r, { total: 5 });
    assert.deepEqual(seen, { a: 2, b: 3 });
    assert.equal(await c.call('reset', {}), undefined);
    await c.cast('note', { text: 'hello' });
    for (const until = Date.now() + 2000; notes.length === 0 && Date.now() < until;)
      await new Promise((ok) => setTimeout(ok, 5));
    assert.deepEqual(notes, ['hello']);
    await server.close();
    await client.close();
  });

  it('refuses a malformed request at the server, before its handler runs', async () => {
    const { server, client } = pair();
    let ran = false;
    await serveRpc(server, 'maths', MATHS, {
      sum: () => {
        ran = true;
        return { total: 0 };
      },
      reset: () => undefined,
      note: () => undefined,
    });
    await assert.rejects(client.call('maths', 'sum', { a: 1, b: 'two' }, { timeoutMs: 2000 }), {
      code: 'bad_request',
      status: 400,
      message: /malformed sum request to maths: sum request: b must be a count/,
    });
    await assert.rejects(client.call('maths', 'sum', [1, 2], { timeoutMs: 2000 }), {
      message: /sum request must be an object/,
    });
    assert.equal(ran, false);
    await server.close();
    await client.close();
  });

  it('refuses a malformed reply at the caller', async () => {
    const { server, client } = pair();
    // An untyped server, as an older or broken peer would be.
    await server.serve('maths', async () => ({ total: -1 }));
    const c = rpcClient(client, 'maths', MATHS);
    await assert.rejects(c.call('sum', { a: 1, b: 1 }), {
      name: 'BadReply',
      code: 'bus_bad_reply',
      status: 502,
      message: /the reply of maths to sum is malformed: sum reply: total must be a count/,
    });
    await server.close();
    await client.close();
  });

  it('refuses an unknown method, at the server and at the caller', async () => {
    const { server, client } = pair();
    await serveRpc(server, 'maths', MATHS, {
      sum: () => ({ total: 0 }),
      reset: () => undefined,
      note: () => undefined,
    });
    await assert.rejects(client.call('maths', 'divide', {}, { timeoutMs: 2000 }), {
      code: 'bus_unknown_method',
      message: 'maths does not handle divide',
    });
    const c = rpcClient(client, 'maths', MATHS);
    // @ts-expect-error: not a method of the protocol
    await assert.rejects(c.call('divide', {}), { code: 'bus_unknown_method' });
    // @ts-expect-error: a cast, not a call
    await assert.rejects(c.call('note', { text: 'x' }), { code: 'bus_unknown_method' });
    await server.close();
    await client.close();
  });

  it('requires one handler per method (by type, and at run time)', async () => {
    const bus = createMemoryBus();
    // @ts-expect-error: the handler of 'note' is missing
    const missing: Handlers<typeof MATHS> = { sum: () => ({ total: 0 }), reset: () => undefined };
    await assert.rejects(serveRpc(bus, 'maths', MATHS, missing), /must match its protocol/);
    const extra = {
      sum: () => ({ total: 0 }),
      reset: () => undefined,
      note: () => undefined,
      divide: () => ({ total: 0 }),
    };
    await assert.rejects(serveRpc(bus, 'maths', MATHS, extra), /handled divide, note/);
    // Types: a handler must answer its method's reply type, and takes its request type.
    const wrongReply: Handlers<typeof MATHS> = {
      // @ts-expect-error: the reply of sum is { total: number }
      sum: () => ({ sum: 0 }),
      reset: () => undefined,
      note: () => undefined,
    };
    assert.ok(wrongReply);
    const c = rpcClient(bus, 'maths', MATHS);
    // @ts-expect-error: the request of sum needs b
    void (() => c.call('sum', { a: 1 }));
    // @ts-expect-error: a Buffer does not survive JSON: not a wire type
    void call(() => ({ data: Buffer.alloc(1) }), nothing);
    await bus.close();
  });
});
