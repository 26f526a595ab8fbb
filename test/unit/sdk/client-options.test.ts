import { describe, expect, it } from 'vitest';
import { AgentMeshClient } from '../../../src/sdk/index.js';

describe('AgentMeshClient options', () => {
  it('says a missing key or a bad url at once, instead of a 401 or a fetch error later', () => {
    expect(() => new AgentMeshClient({ url: 'http://127.0.0.1:8080', apiKey: '' })).toThrow(/apiKey is required/);
    expect(() => new AgentMeshClient({ url: 'http://127.0.0.1:8080', apiKey: undefined as unknown as string })).toThrow(/apiKey is required/);
    expect(() => new AgentMeshClient({ url: '127.0.0.1:8080', apiKey: 'k' })).toThrow(/url must be the mesh's http/);
  });
  it('refuses an idempotency key a header cannot carry before sending anything, batched or not, and takes Latin-1', async () => {
    const sent: string[] = [];
    const fetchFn: typeof fetch = async (input) => {
      sent.push(String(input));
      return new Response(JSON.stringify({ id: 't', status: 'queued', created: true }), { status: 202, headers: { 'content-type': 'application/json' } });
    };
    for (const batching of [true, false]) {
      const client = new AgentMeshClient({ url: 'http://127.0.0.1:1', apiKey: 'k', fetch: fetchFn, batching });
      for (const key of ['k\ud800', 'emoji \ud83d\ude00', 'tab\tkey', '', 'x'.repeat(257)]) {
        await expect(client.submit('c', null, { idempotencyKey: key })).rejects.toThrow(/idempotencyKey must be 1-256 characters/);
      }
      expect(sent).toEqual([]);
      await expect(client.submit('c', null, { idempotencyKey: 'clé-1' })).resolves.toMatchObject({ id: 't' });
      sent.length = 0;
    }
  });
});
