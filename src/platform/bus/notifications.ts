// Typed notifications over the bus: a service declares what it announces as a catalogue (event
// type → payload parser and priority), and gets from it a notifier that sends each event in one
// envelope (who, when, which event, a message id) and a listener that hands subscribers parsed,
// typed notifications. Telemetry, webhooks and the dashboard subscribe through these.
import type { Bus, JsonValue, SubscribeOptions, Subscription } from './bus.ts';
import type { Parser } from './rpc.ts';
import { fields, type WireObject } from './wire.ts';

export type Priority = 'INFO' | 'WARN' | 'ERROR';

export interface EventSpec<P> {
  readonly payload: Parser<P>;
  readonly priority: Priority;
}
/** What one topic carries: event type → its spec. */
export type Catalogue = Readonly<Record<string, EventSpec<unknown>>>;

/** Declares an event; its payload must be a JSON object (WireObject). */
export const event = <P extends WireObject<P>>(
  payload: Parser<P>,
  priority: Priority = 'INFO',
): EventSpec<P> => ({ payload, priority });

export type PayloadOf<S> = S extends EventSpec<infer P> ? P : never;

/** One notification as it travels (the bus's event name is its event_type). */
export interface Notification<E extends string, P> {
  readonly message_id: string;
  readonly event_type: E;
  readonly priority: Priority;
  /** Who sent it, as `<service>:<host>` (Nova's publisher_id). */
  readonly publisher_id: string;
  /** When, ISO 8601 in UTC. */
  readonly timestamp: string;
  readonly payload: P;
}

/** Any notification of the catalogue, discriminated by event_type. */
export type NotificationOf<C extends Catalogue> = {
  [E in keyof C & string]: Notification<E, PayloadOf<C[E]>>;
}[keyof C & string];

export interface Notifier<C extends Catalogue> {
  /** Publishes `event` with `payload` as `publisher`. Never waits for subscribers. */
  emit<E extends keyof C & string>(
    event: E,
    payload: PayloadOf<C[E]>,
    publisher: string,
  ): Promise<void>;
}

export function notifier<C extends Catalogue>(
  bus: Bus,
  topic: string,
  catalogue: C,
  opts: { now?: () => number } = {},
): Notifier<C> {
  const now = opts.now ?? Date.now;
  return {
    async emit(event, payload, publisher) {
      const spec = catalogue[event];
      if (!spec) throw new Error(`${event} is not in the catalogue of ${topic}`);
      const n: Notification<string, unknown> = {
        message_id: crypto.randomUUID(),
        event_type: event,
        priority: spec.priority,
        publisher_id: publisher,
        timestamp: new Date(now()).toISOString(),
        payload,
      };
      await bus.notify(topic, event, n as unknown as JsonValue);
    },
  };
}

/** Parses a received notification of the catalogue; throws a BadRequest saying what is wrong. */
export function parseNotification<C extends Catalogue>(
  catalogue: C,
  event: string,
  v: JsonValue,
): NotificationOf<C> {
  const f = fields(v, `notification ${event}`);
  const type = f.string('event_type');
  const spec = Object.hasOwn(catalogue, type) ? catalogue[type] : undefined;
  if (!spec || type !== event) throw new Error(`unknown notification ${event}`);
  return {
    message_id: f.string('message_id'),
    event_type: type,
    priority: f.oneOf('priority', ['INFO', 'WARN', 'ERROR']),
    publisher_id: f.string('publisher_id'),
    timestamp: f.string('timestamp'),
    payload: spec.payload(f.value('payload')),
  } as NotificationOf<C>;
}

/**
 * Subscribes to `topic` with parsed notifications. One that does not parse (an unknown event, a
 * newer or broken publisher) is passed to `skipped` and not to `handler`.
 */
export function listen<C extends Catalogue>(
  bus: Bus,
  topic: string,
  catalogue: C,
  handler: (n: NotificationOf<C>) => Promise<void> | void,
  opts: SubscribeOptions & { skipped?: (event: string, err: Error) => void } = {},
): Promise<Subscription> {
  const { skipped, ...sub } = opts;
  return bus.subscribe(
    topic,
    async (event, payload) => {
      let n: NotificationOf<C>;
      try {
        n = parseNotification(catalogue, event, payload);
      } catch (e) {
        skipped?.(event, e as Error);
        return;
      }
      await handler(n);
    },
    sub,
  );
}
