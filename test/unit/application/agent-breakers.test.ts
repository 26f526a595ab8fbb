import { describe, expect, it } from 'vitest';
import { AgentBreakers } from '../../../src/application/agent-breakers.js';
import { AgentDirectory } from '../../../src/application/agent-directory.js';
import type { MeshContext } from '../../../src/application/mesh-context.js';
import { DEFAULT_MESH_SETTINGS } from '../../../src/application/settings.js';
import { EMPTY_OUTCOME_WINDOW, recordOutcome, registerAgent } from '../../../src/domain/index.js';

describe('AgentBreakers', () => {
  it("forgets the outcome windows of agents gone and of capabilities an agent no longer has, keeping the rest", async () => {
    const directory = new AgentDirectory();
    const breakers = new AgentBreakers({ directory, settings: DEFAULT_MESH_SETTINGS } as unknown as MeshContext);
    const windows = (breakers as unknown as { windows: Map<string, unknown> }).windows;
    const key = (agentId: string, capability: string) => `t1\u0000${agentId}\u0000${capability}`;
    const failed = recordOutcome(EMPTY_OUTCOME_WINDOW, true);
    // 'shifty' registered again with other capabilities (v2); 'gone' is no longer in the directory.
    directory.put(registerAgent({ id: 'shifty', tenantId: 't1', name: 'shifty', capabilities: [{ name: 'summarize-v2' }, { name: 'translate' }] }, 0).agent);
    for (const k of [key('shifty', 'summarize-v1'), key('shifty', 'translate'), key('gone', 'translate')]) windows.set(k, failed);

    await breakers.probeDue(1_000);
    expect([...windows.keys()]).toEqual([key('shifty', 'translate')]);
  });
});
