import { describe, expect, it } from 'vitest';
import type { Caller } from '../../../src/application/caller.js';
import type { MeshContext } from '../../../src/application/mesh-context.js';
import type { AgentLiveState } from '../../../src/application/ports.js';
import { listAgents } from '../../../src/application/use-cases/query-agents.js';
import type { Agent } from '../../../src/domain/index.js';

const caller: Caller = { keyId: 'k', tenantId: 't', role: 'admin', platform: false };

/** A follower's listing: the stored agent, and the live state the leader published to the shared view. */
async function listed(stored: Partial<Agent>, live: Partial<AgentLiveState>): Promise<Agent> {
  const agent = { id: 'a-1', tenantId: 't', status: 'available', inFlight: 0, updatedAt: 1_000, ...stored } as Agent;
  const state = { status: 'available', inFlight: 0, assignedCount: 0, completedCount: 0, failedCount: 0, avgLatencyMs: 0, lastHeartbeatAt: 1_000, updatedAt: 1_000, ...live } as AgentLiveState;
  const ctx = {
    agents: { list: async () => ({ items: [agent] }) },
    directory: { get: () => undefined },
    liveAgents: { read: async () => new Map([[agent.id, state]]) },
    logger: { warn: () => {} },
  } as unknown as MeshContext;
  return (await listAgents(ctx, caller, {}, { limit: 10 })).items[0]!;
}

describe("a follower's agents with the shared view's live state", () => {
  it('take load and counters from a view at least as new as the store', async () => {
    expect(await listed({ updatedAt: 1_000 }, { inFlight: 3, status: 'busy', updatedAt: 2_000 })).toMatchObject({ inFlight: 3, status: 'busy' });
    expect(await listed({ updatedAt: 3_000, inFlight: 1 }, { inFlight: 3, updatedAt: 2_000 })).toMatchObject({ inFlight: 1 });
  });

  it('keep the status the store gives them outside available and busy, whatever the view still shows', async () => {
    // Paused on the leader: a state published just before (or as new) still says available.
    expect((await listed({ status: 'paused', updatedAt: 2_000 }, { status: 'available', updatedAt: 2_000 })).status).toBe('paused');
    expect((await listed({ status: 'unhealthy', updatedAt: 2_000 }, { status: 'busy', updatedAt: 5_000 })).status).toBe('unhealthy');
    // Resumed: the view may still show the pause.
    expect((await listed({ status: 'available', updatedAt: 2_000 }, { status: 'paused', inFlight: 2, updatedAt: 3_000 })).status).toBe('available');
  });
});
