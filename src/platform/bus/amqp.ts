// The bus on RabbitMQ (AMQP 0-9-1), for clouds scaled out over several processes and hosts.
//
// Layout on the broker, all names under the `nubes.` prefix:
// - rpc: one durable queue per target (`nubes.rpc.<target>`) on the default exchange. Servers of a
//   target compete on it. Calls carry an expiration equal to their timeout, so a call nobody
//   answered in time is never run later; casts are persistent and wait for a server.
// - replies: RabbitMQ's direct reply-to (`amq.rabbitmq.reply-to`), matched by correlation id;
//   no reply queue to declare or clean up.
// - notifications: the topic exchange `nubes.notify`, routing key = topic. A subscriber without a
//   group gets an exclusive queue of its own; a group shares one durable queue.
// The connection recovers by itself (amqplib's recovery); on every (re)connect the channel, the
// servers and the subscriptions are set up again. Calls waiting when the link drops fail at once
// with Unavailable, because their replies can no longer reach this process.
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConsumeMessage, RecoveringChannelModel } from 'amqplib';
import type {
  Bus,
  CallOptions,
  JsonValue,
  NotificationHandler,
  RpcHandler,
  SubscribeOptions,
  Subscription,
} from './bus.ts';
import { BusClosed, BusTimeout } from './bus.ts';
import { isNubesError, NubesError, Unavailable } from '../errors.ts';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.ts';

const DEFAULT_TIMEOUT_MS = 60_000;
const REPLY_TO = 'amq.rabbitmq.reply-to';
const NOTIFY_EXCHANGE = 'nubes.notify';
/** Unused rpc and group queues are removed by the broker after a day, so targets that no longer
 * exist (a host taken out of service) do not leave queues behind forever. */
const QUEUE_EXPIRES_MS = 24 * 3600 * 1000;
/** How many messages one consumer works on at a time. */
const PREFETCH = 32;

export interface AmqpBusOptions {
  readonly url: string;
  readonly log?: Logger;
  /** Connection attempts before the first connection fails (default 3); afterwards it retries forever. */
  readonly connectRetries?: number;
}

type WireError = {
  code: string;
  status: number;
  message: string;
  fields: Record<string, unknown>;
  name: string;
};
type Reply = { ok: JsonValue } | { err: WireError };

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*)(:[^@/]*)?@/, (_m, user: string) => `//${user}@`);
}

function encode(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v ?? null));
}
function decode(msg: ConsumeMessage): unknown {
  return JSON.parse(msg.content.toString('utf8'));
}

function toWire(e: unknown): WireError {
  if (isNubesError(e)) {
    return {
      code: e.code,
      status: e.status,
      message: e.message,
      fields: JSON.parse(JSON.stringify(e.fields ?? {})) as Record<string, unknown>,
      name: e.name,
    };
  }
  return {
    code: 'remote_error',
    status: 500,
    message: `the remote handler failed: ${e instanceof Error ? e.message : String(e)}`,
    fields: {},
    name: 'NubesError',
  };
}

function fromWire(w: WireError): NubesError {
  const err = new NubesError(w.code, w.status, w.message, w.fields);
  err.name = w.name;
  return err;
}

interface Server {
  readonly target: string;
  readonly handler: RpcHandler;
  tag?: string;
}
interface Subscriber {
  readonly topic: string;
  readonly handler: NotificationHandler;
  readonly group: string | undefined;
  tag?: string;
  queue?: string;
}
interface Waiter {
  readonly resolve: (r: Reply) => void;
  readonly fail: (e: Error) => void;
}

export async function createAmqpBus(opts: AmqpBusOptions): Promise<Bus> {
  const log = opts.log;
  const where = redactUrl(opts.url);
  const servers = new Set<Server>();
  const subscribers = new Set<Subscriber>();
  const waiters = new Map<string, Waiter>();
  let declared = new Set<string>();
  let channel: Channel | undefined;
  let closed = false;

  const rpcQueue = (target: string) => `nubes.rpc.${target}`;
  const queueArgs = { 'x-expires': QUEUE_EXPIRES_MS };

  async function declareRpcQueue(ch: Channel, target: string): Promise<string> {
    const q = rpcQueue(target);
    if (!declared.has(q)) {
      await ch.assertQueue(q, { durable: true, arguments: queueArgs });
      declared.add(q);
    }
    return q;
  }

  async function startServer(ch: Channel, s: Server): Promise<void> {
    const q = await declareRpcQueue(ch, s.target);
    const { consumerTag } = await ch.consume(
      q,
      (msg) => {
        if (msg) onRequest(ch, s, msg);
      },
      { noAck: true },
    );
    s.tag = consumerTag;
  }

  function onRequest(ch: Channel, s: Server, msg: ConsumeMessage): void {
    const method = msg.properties.type as string;
    const { replyTo, correlationId } = msg.properties as {
      replyTo?: string;
      correlationId?: string;
    };
    let payload: JsonValue;
    try {
      payload = decode(msg) as JsonValue;
    } catch (e) {
      log?.warn({ err: e, target: s.target }, 'dropped an rpc message that is not JSON');
      return;
    }
    void Promise.resolve()
      .then(() => s.handler(method, payload))
      .then(
        (r): Reply => ({ ok: (r ?? null) as JsonValue }),
        (e: unknown): Reply => {
          if (!replyTo) log?.warn({ err: e, target: s.target, method }, 'cast handler failed');
          return { err: toWire(e) };
        },
      )
      .then((reply) => {
        if (!replyTo || closed) return;
        try {
          ch.sendToQueue(replyTo, encode(reply), {
            correlationId: correlationId ?? '',
            contentType: 'application/json',
          });
        } catch (e) {
          log?.warn(
            { err: e, target: s.target, method },
            'could not send an rpc reply; the caller will time out',
          );
        }
      });
  }

  async function startSubscriber(ch: Channel, s: Subscriber): Promise<void> {
    let q: string;
    if (s.group === undefined) {
      q = (await ch.assertQueue('', { exclusive: true, autoDelete: true })).queue;
    } else {
      q = `nubes.notify.${s.topic}.${s.group}`;
      await ch.assertQueue(q, { durable: true, arguments: queueArgs });
    }
    await ch.bindQueue(q, NOTIFY_EXCHANGE, s.topic);
    s.queue = q;
    const { consumerTag } = await ch.consume(
      q,
      (msg) => {
        if (!msg) return;
        let body: { event: string; payload: JsonValue };
        try {
          body = decode(msg) as typeof body;
        } catch (e) {
          log?.warn({ err: e, topic: s.topic }, 'dropped a notification that is not JSON');
          return;
        }
        void Promise.resolve()
          .then(() => s.handler(body.event, body.payload))
          .catch((err: unknown) =>
            log?.warn({ err, topic: s.topic, event: body.event }, 'notification handler failed'),
          );
      },
      { noAck: true },
    );
    s.tag = consumerTag;
  }

  /** (Re)builds everything on a fresh connection. */
  async function attach(model: ChannelModel): Promise<void> {
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => log?.warn({ err, bus: where }, 'message bus channel error'));
    ch.on('close', () => {
      if (channel !== ch) return;
      channel = undefined;
      failWaiters(
        new Unavailable(
          `lost the connection to the message bus at ${where}; the call may or may not have run`,
          'bus_disconnected',
        ),
      );
      // A channel can close on its own (a broker-side error) while the connection stays up. Wait a
      // second first, so an error that recurs on every attach does not spin.
      if (!closed) {
        setTimeout(() => {
          if (!closed && !channel)
            void attach(model).catch((err: unknown) =>
              log?.debug({ err }, 'channel re-open failed; waiting for reconnect'),
            );
        }, 1000).unref();
      }
    });
    await ch.prefetch(PREFETCH);
    await ch.assertExchange(NOTIFY_EXCHANGE, 'topic', { durable: true });
    await ch.consume(
      REPLY_TO,
      (msg) => {
        if (!msg) return;
        const w = waiters.get(msg.properties.correlationId as string);
        if (!w) return; // the caller gave up (timeout) already
        try {
          w.resolve(decode(msg) as Reply);
        } catch (e) {
          w.fail(e instanceof Error ? e : new Error(String(e)));
        }
      },
      { noAck: true },
    );
    declared = new Set();
    for (const s of servers) await startServer(ch, s);
    for (const s of subscribers) await startSubscriber(ch, s);
    channel = ch;
    log?.debug({ bus: where }, 'message bus attached');
  }

  function failWaiters(e: Error): void {
    for (const w of [...waiters.values()]) w.fail(e);
  }

  function live(): Channel {
    if (closed) throw new BusClosed();
    if (!channel)
      throw new Unavailable(
        `the message bus at ${where} is not connected; it is reconnecting, retry shortly`,
        'bus_disconnected',
      );
    return channel;
  }

  let conn: RecoveringChannelModel;
  try {
    conn = await amqp.connect(opts.url, {
      recovery: {
        initialMaxRetries: opts.connectRetries ?? 3,
        maxDelay: 5000,
        setup: (model: ChannelModel) => attach(model),
      },
    });
  } catch (e) {
    throw new Unavailable(
      `cannot reach the message bus at ${where}: ${e instanceof Error ? e.message : String(e)}; start RabbitMQ (rabbitmq-server) or fix --bus`,
      'bus_unreachable',
    );
  }
  conn.on('error', (err: Error) => log?.warn({ err, bus: where }, 'message bus connection error'));
  conn.on('disconnect', (err: Error) => {
    channel = undefined;
    if (!closed) log?.warn({ err, bus: where }, 'lost the message bus connection; reconnecting');
    failWaiters(
      new Unavailable(
        `lost the connection to the message bus at ${where}; the call may or may not have run`,
        'bus_disconnected',
      ),
    );
  });
  conn.on('reconnect-failed', (err: Error) =>
    log?.error({ err, bus: where }, 'gave up reconnecting to the message bus'),
  );

  async function stopConsumer(tag: string | undefined): Promise<void> {
    if (!tag || !channel) return;
    try {
      await channel.cancel(tag);
    } catch {
      /* the channel is gone; nothing to cancel */
    }
  }

  return {
    async call<R extends JsonValue | void = JsonValue>(
      target: string,
      method: string,
      payload: JsonValue,
      o: CallOptions = {},
    ): Promise<R> {
      const ch = live();
      const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const q = await declareRpcQueue(ch, target);
      const id = randomUUID();
      return new Promise<R>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(id);
        };
        const timer = setTimeout(() => {
          done();
          reject(new BusTimeout(target, method, timeoutMs));
        }, timeoutMs);
        waiters.set(id, {
          resolve: (r) => {
            done();
            if ('err' in r) reject(fromWire(r.err));
            else resolve(r.ok as R);
          },
          fail: (e) => {
            done();
            reject(e);
          },
        });
        try {
          ch.sendToQueue(q, encode(payload), {
            type: method,
            correlationId: id,
            replyTo: REPLY_TO,
            contentType: 'application/json',
            expiration: String(timeoutMs),
          });
        } catch (e) {
          done();
          reject(
            new Unavailable(
              `could not send to the message bus at ${where}: ${e instanceof Error ? e.message : String(e)}`,
              'bus_disconnected',
            ),
          );
        }
      });
    },

    async cast(target: string, method: string, payload: JsonValue): Promise<void> {
      const ch = live();
      const q = await declareRpcQueue(ch, target);
      ch.sendToQueue(q, encode(payload), {
        type: method,
        contentType: 'application/json',
        persistent: true,
      });
    },

    async serve(target: string, handler: RpcHandler): Promise<Subscription> {
      const ch = live();
      const s: Server = { target, handler };
      servers.add(s);
      await startServer(ch, s);
      return {
        async close() {
          if (!servers.delete(s)) return;
          await stopConsumer(s.tag);
        },
      };
    },

    async notify(topic: string, event: string, payload: JsonValue): Promise<void> {
      live().publish(NOTIFY_EXCHANGE, topic, encode({ event, payload }), {
        contentType: 'application/json',
      });
    },

    async subscribe(
      topic: string,
      handler: NotificationHandler,
      o: SubscribeOptions = {},
    ): Promise<Subscription> {
      const ch = live();
      const s: Subscriber = { topic, handler, group: o.group };
      subscribers.add(s);
      await startSubscriber(ch, s);
      return {
        async close() {
          if (!subscribers.delete(s)) return;
          await stopConsumer(s.tag);
        },
      };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      failWaiters(new BusClosed());
      servers.clear();
      subscribers.clear();
      channel = undefined;
      try {
        await conn.close();
      } catch {
        /* already gone */
      }
    },
  };
}
