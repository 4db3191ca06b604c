import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAmqpBus, redactUrl } from './amqp.ts';
import { busContract } from './bus.contract.ts';

// scripts/test.sh starts Debian's rabbitmq-server on loopback and sets this; CI requires it.
const url = process.env.NUBES_TEST_AMQP_URL;
busContract(
  'AMQP (RabbitMQ)',
  async () => createAmqpBus({ url: url! }),
  url ? undefined : 'NUBES_TEST_AMQP_URL is not set (scripts/test.sh starts RabbitMQ)',
);

test('an unreachable broker fails fast with a message that says what to do', async () => {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  await assert.rejects(
    createAmqpBus({ url: 'amqp://guest:secret@127.0.0.1:1/', connectRetries: 0 }),
    (e: Error & { code?: string; status?: number }) => {
      assert.equal(e.code, 'bus_unreachable');
      assert.equal(e.status, 503);
      assert.match(e.message, /rabbitmq-server/);
      assert.doesNotMatch(e.message, /secret/, 'the password must not appear in messages');
      return true;
    },
  );
});

test('URLs are shown without their password', () => {
  assert.equal(
    redactUrl('amqp://nubes:s3cret@mq.example:5672/vh'),
    'amqp://nubes@mq.example:5672/vh',
  );
  assert.equal(redactUrl('amqp://mq.example/'), 'amqp://mq.example/');
});

test(
  'after the broker drops the connection, servers and subscriptions come back by themselves',
  { skip: url ? false : 'NUBES_TEST_AMQP_URL is not set' },
  async () => {
    const { execFileSync } = await import('node:child_process');
    const a = await createAmqpBus({ url: url! });
    const b = await createAmqpBus({ url: url! });
    try {
      const target = `test-reconnect-${process.pid}`;
      await b.serve(target, async (_m, p) => p);
      const heard: string[] = [];
      await b.subscribe(`test-reconnect-events-${process.pid}`, (e) => {
        heard.push(e);
      });
      assert.deepEqual(await a.call(target, 'echo', { n: 1 }, { timeoutMs: 5000 }), { n: 1 });

      execFileSync('rabbitmqctl', ['-q', 'close_all_connections', 'nubes bus reconnect test'], {
        stdio: 'ignore',
      });

      // Until both sides have reconnected a call may fail (bus_disconnected) or time out; then it works.
      const deadline = Date.now() + 20_000;
      let reply: unknown;
      while (Date.now() < deadline) {
        try {
          reply = await a.call(target, 'echo', { n: 2 }, { timeoutMs: 1000 });
          break;
        } catch (e) {
          assert.ok(
            ['bus_disconnected', 'bus_timeout'].includes((e as { code?: string }).code ?? ''),
            String(e),
          );
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      assert.deepEqual(reply, { n: 2 });
      await a.notify(`test-reconnect-events-${process.pid}`, 'after', null);
      const until = Date.now() + 5000;
      while (heard.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(heard, ['after']);
    } finally {
      await a.close();
      await b.close();
    }
  },
);
