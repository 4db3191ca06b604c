// Chooses the bus implementation from configuration (the only place that does).
import type { Bus } from '../platform/bus/bus.ts';
import { createMemoryBus } from '../platform/bus/memory.ts';
import type { Logger } from '../platform/log.ts';

export async function openBus(url: string, log: Logger): Promise<Bus> {
  if (url === 'memory') return createMemoryBus({ log });
  // Loaded only when used: the all-in-one cloud does not pay amqplib's memory.
  const { createAmqpBus } = await import('../platform/bus/amqp.ts');
  return createAmqpBus({ url, log });
}
