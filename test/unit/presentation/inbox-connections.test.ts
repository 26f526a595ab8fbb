import { describe, expect, it } from 'vitest';
import { InboxConnections } from '../../../src/presentation/api/inbox-connections.js';

describe('InboxConnections', () => {
  it("ends an agent's oldest connection past the bound, never another agent's or tenant's, and forgets released ones", () => {
    const displaced: string[] = [];
    const changes: number[] = [];
    const connections = new InboxConnections(2, { onDisplaced: (t) => displaced.push(t), onChange: (_t, d) => changes.push(d) });
    const ended: string[] = [];
    const r1 = connections.take('t1', 'a', () => ended.push('t1/a/1'));
    connections.take('t1', 'a', () => ended.push('t1/a/2'));
    connections.take('t1', 'b', () => ended.push('t1/b/1'));
    connections.take('t2', 'a', () => ended.push('t2/a/1'));
    expect(connections.size).toBe(4);
    connections.take('t1', 'a', () => ended.push('t1/a/3'));
    expect(ended).toEqual(['t1/a/1']);
    expect(displaced).toEqual(['t1']);
    expect(connections.size).toBe(4);
    // The displaced connection's own release (its close) counts nothing twice.
    r1();
    expect(connections.size).toBe(4);
    connections.take('t1', 'a', () => ended.push('t1/a/4'));
    expect(ended).toEqual(['t1/a/1', 't1/a/2']);
    expect(changes.reduce((a, b) => a + b, 0)).toBe(4);
  });

  it('releasing every connection leaves nothing behind', () => {
    const connections = new InboxConnections(4);
    const releases = Array.from({ length: 3 }, () => connections.take('t1', 'a', () => {}));
    for (const release of releases) release();
    releases[0]!();
    expect(connections.size).toBe(0);
    expect((connections as unknown as { byAgent: Map<string, unknown> }).byAgent.size).toBe(0);
  });
});
