import { createMemoryBus } from '../../src/bus/memory-bus';
import { busContract } from './bus-contract';

busContract('memory', async () => createMemoryBus());
