// Chooses the bus implementation from configuration (the only place that does).
import type { Bus } from '../platform/bus/bus.ts';
import { createMemoryBus } from '../platform/bus/memory.ts';
import { createAmqpBus } from '../platform/bus/amqp.ts';
import type { Logger } from '../platform/log.ts';

export async function openBus(url: string, log: Logger): Promise<Bus> {
  if (url === 'memory') return createMemoryBus({ log });
  return createAmqpBus({ url, log });
}
