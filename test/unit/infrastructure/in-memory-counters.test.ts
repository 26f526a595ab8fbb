import { expect, it } from 'vitest';
import { InMemoryCounters } from '../../../src/infrastructure/caching/in-memory-counters.js';
import { sharedCountersContract } from '../../contracts/shared-counters.contract.js';

sharedCountersContract('in-memory', async () => new InMemoryCounters());

it('holds a bounded number of counters, the least recently used going first', async () => {
  const counters = new InMemoryCounters();
  for (let i = 0; i < 100_010; i++) await counters.add('tenant', `name-${i}`, 60_000, 1, 0);
  expect(counters.size).toBe(100_000);
  expect(await counters.total('tenant', 'name-0', 60_000, 0)).toBe(0);
  expect(await counters.total('tenant', 'name-100009', 60_000, 0)).toBe(1);
});
