// Typed notifications over the memory bus: the envelope, parsed payloads for subscribers, and
// notifications that do not parse kept from the handler.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryBus } from './memory.ts';
import { event, listen, notifier, type NotificationOf } from './notifications.ts';
import { fields } from './wire.ts';
import type { JsonValue } from './bus.ts';

const parseThing = (v: JsonValue) => {
  const f = fields(v, 'thing payload');
  return { id: f.string('id'), size: f.count('size') };
};
const CATALOGUE = {
  'thing.create.start': event(parseThing),
  'thing.create.error': event(parseThing, 'ERROR'),
} as const;

const until = async (ok: () => boolean) => {
  for (const end = Date.now() + 2000; !ok() && Date.now() < end;)
    await new Promise((r) => setTimeout(r, 5));
};

describe('typed notifications', () => {
  it('sends an envelope that subscribers receive parsed, in order', async () => {
    const bus = createMemoryBus();
    const got: NotificationOf<typeof CATALOGUE>[] = [];
    await listen(bus, 'things', CATALOGUE, (n) => {
      got.push(n);
    });
    const n = notifier(bus, 'things', CATALOGUE, { now: () => Date.UTC(2026, 0, 2, 3, 4, 5) });
    await n.emit('thing.create.start', { id: 'a', size: 1 }, 'things:host1');
    await n.emit('thing.create.error', { id: 'a', size: 1 }, 'things:host1');
    await until(() => got.length === 2);
    assert.deepEqual(
      got.map((x) => [x.event_type, x.priority, x.publisher_id, x.timestamp, x.payload]),
      [
        [
          'thing.create.start',
          'INFO',
          'things:host1',
          '2026-01-02T03:04:05.000Z',
          { id: 'a', size: 1 },
        ],
        [
          'thing.create.error',
          'ERROR',
          'things:host1',
          '2026-01-02T03:04:05.000Z',
          { id: 'a', size: 1 },
        ],
      ],
    );
    assert.match(got[0]!.message_id, /^[0-9a-f-]{36}$/);
    assert.notEqual(got[0]!.message_id, got[1]!.message_id);
    // @ts-expect-error: not in the catalogue
    await assert.rejects(n.emit('thing.delete.start', { id: 'a', size: 1 }, 'x'));
    // @ts-expect-error: the payload needs a size
    void (() => n.emit('thing.create.start', { id: 'a' }, 'x'));
    await bus.close();
  });

  it('keeps notifications that do not parse from the handler', async () => {
    const bus = createMemoryBus();
    const got: string[] = [];
    const skipped: string[] = [];
    await listen(bus, 'things', CATALOGUE, (n) => void got.push(n.event_type), {
      skipped: (e, err) => skipped.push(`${e}: ${err.message}`),
    });
    await bus.notify('things', 'thing.vanish', { event_type: 'thing.vanish' });
    await bus.notify('things', 'thing.create.start', {
      message_id: 'm',
      event_type: 'thing.create.start',
      priority: 'INFO',
      publisher_id: 'p',
      timestamp: 't',
      payload: { id: 'a', size: -1 },
    });
    await until(() => skipped.length === 2);
    assert.deepEqual(got, []);
    assert.deepEqual(skipped, [
      'thing.vanish: unknown notification thing.vanish',
      'thing.create.start: thing payload: size must be a count',
    ]);
    await bus.close();
  });
});
