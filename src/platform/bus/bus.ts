// The message bus seam: rpc call (with timeout) and cast to one named target, and fan-out
// notifications. Host work crosses it, always addressed to one host's agent ('compute.<host>').
// Implementations: memory.ts (in-process, `nubes up`) and amqp.ts (RabbitMQ, scale-out).
// Payloads are plain JSON values; nothing that does not survive JSON.stringify may be sent.

import { NubesError, Unavailable } from '../errors.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** Handles calls and casts sent to a target. A thrown NubesError reaches the caller with the
 * same code, status, message and fields; any other throw reaches it as code 'remote_error'. */
export type RpcHandler = (method: string, payload: JsonValue) => Promise<JsonValue | void>;

export type NotificationHandler = (event: string, payload: JsonValue) => Promise<void> | void;

export interface Subscription {
  /** Stops delivery to this handler; messages in flight may still finish. Idempotent. */
  close(): Promise<void>;
}

export interface CallOptions {
  /** How long to wait for the reply; default 60 s. On expiry the call rejects with BusTimeout. */
  readonly timeoutMs?: number;
}

export interface SubscribeOptions {
  /** Subscribers sharing a group share the events (each event reaches one of them); without a
   * group every subscriber receives every event. */
  readonly group?: string;
}

export interface Bus {
  /** Sends `method(payload)` to the target's server and resolves with its reply. Rejects with
   * BusTimeout when no reply arrives in time (including when nobody serves the target). */
  call<R extends JsonValue | void = JsonValue>(
    target: string,
    method: string,
    payload: JsonValue,
    opts?: CallOptions,
  ): Promise<R>;
  /** Sends without waiting for a reply. Delivered at most once to one server of the target; queued
   * until one serves it (the memory bus holds it in memory, AMQP in a durable queue). */
  cast(target: string, method: string, payload: JsonValue): Promise<void>;
  /** Serves a target. Several servers of one target compete: each message reaches one of them. */
  serve(target: string, handler: RpcHandler): Promise<Subscription>;
  /** Publishes an event on a topic to every current subscriber (or group). Never waits for them. */
  notify(topic: string, event: string, payload: JsonValue): Promise<void>;
  subscribe(
    topic: string,
    handler: NotificationHandler,
    opts?: SubscribeOptions,
  ): Promise<Subscription>;
  /** Stops all servers and subscriptions and rejects calls still waiting with BusClosed. */
  close(): Promise<void>;
}

/** No reply arrived in time; the target may be down or overloaded. */
export class BusTimeout extends NubesError {
  constructor(target: string, method: string, timeoutMs: number) {
    super(
      'bus_timeout',
      504,
      `no reply from ${target} to ${method} within ${timeoutMs} ms; check that its agent is running`,
      { target, method, timeoutMs },
    );
    this.name = 'BusTimeout';
  }
}

/** The bus was closed while a call waited, or a send was attempted after close. */
export class BusClosed extends Unavailable {
  constructor() {
    super('the message bus is closed', 'bus_closed');
    this.name = 'BusClosed';
  }
}
