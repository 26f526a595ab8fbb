import { describe, expect, it } from 'vitest';
import { AgentMeshClient } from '../../../src/sdk/index.js';

describe('AgentMeshClient options', () => {
  it('says a missing key or a bad url at once, instead of a 401 or a fetch error later', () => {
    expect(() => new AgentMeshClient({ url: 'http://127.0.0.1:8080', apiKey: '' })).toThrow(/apiKey is required/);
    expect(() => new AgentMeshClient({ url: 'http://127.0.0.1:8080', apiKey: undefined as unknown as string })).toThrow(/apiKey is required/);
    expect(() => new AgentMeshClient({ url: '127.0.0.1:8080', apiKey: 'k' })).toThrow(/url must be the mesh's http/);
  });
});
