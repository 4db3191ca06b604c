import { createMemoryBus, MemoryHub } from './memory.ts';
import { busContract } from './bus.contract.ts';

const hub = new MemoryHub();
busContract('in-process', async () => createMemoryBus({ hub }));
