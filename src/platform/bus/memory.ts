// The in-process bus of `nubes up`: the same semantics as AMQP (JSON copies, competing servers,
// casts queued until served, fan-out or grouped notifications), with no broker. A MemoryHub plays
// the broker; each createMemoryBus() is one connection to it, so closing one connection (one
// simulated host agent, say) leaves the others working, as with RabbitMQ.
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
import { isNubesError, NubesError } from '../errors.ts';
import type { Logger } from '../log.ts';

const DEFAULT_TIMEOUT_MS = 60_000;

/** A JSON round trip, so nothing sent by reference can be changed by the receiver. */
const copy = (v: JsonValue): JsonValue => JSON.parse(JSON.stringify(v ?? null)) as JsonValue;

/** What a handler's failure looks like to the caller, as it would after crossing a broker. */
function remoteError(e: unknown): NubesError {
  if (isNubesError(e)) {
    const err = new NubesError(
      e.code,
      e.status,
      e.message,
      JSON.parse(JSON.stringify(e.fields ?? {})) as Record<string, unknown>,
    );
    err.name = e.name;
    return err;
  }
  return new NubesError(
    'remote_error',
    500,
    `the remote handler failed: ${e instanceof Error ? e.message : String(e)}`,
  );
}

type Outcome = { ok: JsonValue } | { err: NubesError };
interface Message {
  readonly method: string;
  readonly payload: JsonValue;
  /** Calls only: takes the handler's outcome to the caller. */
  readonly reply?: (r: Outcome) => void;
  /** Calls only: false once the caller stopped waiting, so an undelivered call is dropped. */
  readonly wanted?: () => boolean;
}
interface Server {
  readonly handler: RpcHandler;
  readonly log: Logger | undefined;
}
interface Subscriber {
  readonly handler: NotificationHandler;
  readonly group: string | undefined;
  readonly log: Logger | undefined;
}

/** The broker of the in-process bus: queues, servers and subscribers shared by its connections. */
export class MemoryHub {
  private readonly servers = new Map<string, Server[]>();
  private readonly turn = new Map<string, number>();
  private readonly queued = new Map<string, Message[]>();
  private readonly subscribers = new Map<string, Subscriber[]>();

  send(target: string, m: Message): void {
    const list = this.servers.get(target);
    if (!list || list.length === 0) {
      this.queued.set(target, [...(this.queued.get(target) ?? []), m]);
      return;
    }
    const i = (this.turn.get(target) ?? 0) % list.length;
    this.turn.set(target, i + 1);
    const server = list[i]!;
    // Later, never in the sender's stack: a broker would not run the handler synchronously either.
    setImmediate(() => {
      if (m.wanted && !m.wanted()) return; // the call timed out before it was delivered
      Promise.resolve()
        .then(() => server.handler(m.method, copy(m.payload)))
        .then(
          (r) => m.reply?.({ ok: copy((r ?? null) as JsonValue) }),
          (e: unknown) => {
            if (!m.reply)
              server.log?.warn({ err: e, target, method: m.method }, 'cast handler failed');
            m.reply?.({ err: remoteError(e) });
          },
        );
    });
  }

  addServer(target: string, s: Server): void {
    this.servers.set(target, [...(this.servers.get(target) ?? []), s]);
    const backlog = this.queued.get(target) ?? [];
    this.queued.delete(target);
    for (const m of backlog) this.send(target, m);
  }

  removeServer(target: string, s: Server): void {
    this.servers.set(
      target,
      (this.servers.get(target) ?? []).filter((x) => x !== s),
    );
  }

  publish(topic: string, event: string, payload: JsonValue): void {
    const chosen: Subscriber[] = [];
    const groups = new Map<string, Subscriber[]>();
    for (const s of this.subscribers.get(topic) ?? []) {
      if (s.group === undefined) chosen.push(s);
      else groups.set(s.group, [...(groups.get(s.group) ?? []), s]);
    }
    for (const [group, members] of groups) {
      const key = `${topic}\u0000${group}`;
      const turn = this.turn.get(key) ?? 0;
      this.turn.set(key, turn + 1);
      chosen.push(members[turn % members.length]!);
    }
    for (const s of chosen) {
      const data = copy(payload);
      setImmediate(() => {
        Promise.resolve()
          .then(() => s.handler(event, data))
          .catch((err: unknown) =>
            s.log?.warn({ err, topic, event }, 'notification handler failed'),
          );
      });
    }
  }

  addSubscriber(topic: string, s: Subscriber): void {
    this.subscribers.set(topic, [...(this.subscribers.get(topic) ?? []), s]);
  }

  removeSubscriber(topic: string, s: Subscriber): void {
    this.subscribers.set(
      topic,
      (this.subscribers.get(topic) ?? []).filter((x) => x !== s),
    );
  }
}

/** One connection to a hub (a private hub when none is given). */
export function createMemoryBus(opts: { hub?: MemoryHub; log?: Logger } = {}): Bus {
  const hub = opts.hub ?? new MemoryHub();
  const log = opts.log;
  const waiting = new Set<(e: Error) => void>();
  const open = new Set<Subscription>();
  let closed = false;

  const live = () => {
    if (closed) throw new BusClosed();
  };
  function track(close: () => void): Subscription {
    let active = true;
    const sub: Subscription = {
      async close() {
        if (!active) return;
        active = false;
        open.delete(sub);
        close();
      },
    };
    open.add(sub);
    return sub;
  }

  return {
    async call<R extends JsonValue | void = JsonValue>(
      target: string,
      method: string,
      payload: JsonValue,
      o: CallOptions = {},
    ): Promise<R> {
      live();
      const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      return new Promise<R>((resolve, reject) => {
        let settled = false;
        const settle = (f: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          waiting.delete(fail);
          f();
        };
        const fail = (e: Error) => settle(() => reject(e));
        const timer = setTimeout(() => fail(new BusTimeout(target, method, timeoutMs)), timeoutMs);
        waiting.add(fail);
        hub.send(target, {
          method,
          payload: copy(payload),
          wanted: () => !settled,
          reply: (r) => settle(() => ('err' in r ? reject(r.err) : resolve(r.ok as R))),
        });
      });
    },

    async cast(target: string, method: string, payload: JsonValue): Promise<void> {
      live();
      hub.send(target, { method, payload: copy(payload) });
    },

    async serve(target: string, handler: RpcHandler): Promise<Subscription> {
      live();
      const s: Server = { handler, log };
      hub.addServer(target, s);
      return track(() => hub.removeServer(target, s));
    },

    async notify(topic: string, event: string, payload: JsonValue): Promise<void> {
      live();
      hub.publish(topic, event, payload);
    },

    async subscribe(
      topic: string,
      handler: NotificationHandler,
      o: SubscribeOptions = {},
    ): Promise<Subscription> {
      live();
      const s: Subscriber = { handler, group: o.group, log };
      hub.addSubscriber(topic, s);
      return track(() => hub.removeSubscriber(topic, s));
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const fail of [...waiting]) fail(new BusClosed());
      for (const sub of [...open]) await sub.close();
    },
  };
}
