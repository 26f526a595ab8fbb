import { describe, expect, it } from 'vitest';
import { blockedPortWarning, FETCH_BLOCKED_PORTS } from '../../../src/presentation/cli/fetch-bad-ports.js';

/** What Node's fetch says when it gives up on 127.0.0.1:`port` (nothing listens on these). */
const refusal = (port: number) => fetch(`http://127.0.0.1:${port}/`).then(() => 'answered', (error: { cause?: { message?: string; code?: string } }) => error.cause?.message ?? error.cause?.code);

describe('blockedPortWarning', () => {
  it("warns of a port Node's fetch refuses, and of no other", () => {
    expect(blockedPortWarning('http://127.0.0.1:10080')).toMatch(/^port 10080 is one that fetch refuses/u);
    expect(blockedPortWarning('http://127.0.0.1:6667')).toMatch(/choose another AGENTMESH_PORT$/u);
    expect(blockedPortWarning('http://127.0.0.1:8080')).toBeUndefined();
    expect(blockedPortWarning(undefined)).toBeUndefined();
  });

  it("holds ports Node's fetch refuses, every one, and not the ports beside them", async () => {
    const refused = (await Promise.all([...FETCH_BLOCKED_PORTS].filter((p) => p > 0).map(refusal))).filter((m) => m === 'bad port');
    expect(refused).toHaveLength(FETCH_BLOCKED_PORTS.size - 1);
    for (const port of [2, 24, 1024, 6001, 6670, 10079, 10081]) expect(await refusal(port), String(port)).not.toBe('bad port');
  });
});
