import { describe, expect, it } from 'vitest';
import {
  circuitOf,
  halfOpen,
  heartbeat,
  isProbeDue,
  mayOpenAnother,
  openAsOutlier,
  pause,
  recordAgentOutcome,
  resume,
  registerAgent,
  routableSlots,
  type Agent,
  type AgentBreakerSettings,
} from '../../../src/domain/index.js';

const settings: AgentBreakerSettings = { failureThreshold: 3, cooldownMs: 1_000, maxCooldownMs: 3_000, failureRatio: 0.5, maxEjectionPercent: 50 };
const fresh = (): Agent => ({ ...registerAgent({ id: 'a-1', tenantId: 't', name: 'a', capabilities: [{ name: 'x' }], maxConcurrentTasks: 4 }, 0).agent });

function failTimes(agent: Agent, n: number, now = 10): Agent {
  for (let i = 0; i < n; i++) agent = recordAgentOutcome(agent, 'failure', settings, now, 'boom').agent;
  return agent;
}

describe('agent circuit breaker', () => {
  it('counts failures in a row without an event, and a success resets the count', () => {
    let agent = failTimes(fresh(), 2);
    expect(circuitOf(agent)).toEqual({ state: 'closed', consecutiveFailures: 2, opens: 0 });
    const success = recordAgentOutcome(agent, 'success', settings, 20);
    expect(success.events).toEqual([]);
    agent = success.agent;
    expect(circuitOf(agent).consecutiveFailures).toBe(0);
    expect(agent.version).toBe(fresh().version);
  });

  it('opens on the threshold: unhealthy, an event with the figures, a probe time one cool-down away', () => {
    const before = failTimes(fresh(), 2);
    const change = recordAgentOutcome(before, 'failure', settings, 100, 'boom');
    expect(change.agent.status).toBe('unhealthy');
    expect(change.agent.circuit).toEqual({ state: 'open', consecutiveFailures: 3, opens: 1, openedAt: 100, probeAt: 1_100 });
    expect(change.events).toMatchObject([{ type: 'AgentCircuitOpened', data: { consecutiveFailures: 3, cooldownMs: 1_000, probeFailed: false, error: 'boom' } }]);
    expect(change.agent.version).toBe(before.version + 1);
  });

  it('ignores outcomes while open except to count; a heartbeat does not bring it back', () => {
    const open = failTimes(fresh(), 3);
    expect(recordAgentOutcome(open, 'success', settings, 200).events).toEqual([]);
    expect(circuitOf(recordAgentOutcome(open, 'failure', settings, 200).agent)).toMatchObject({ state: 'open', consecutiveFailures: 4 });
    const beat = heartbeat(open, 300);
    expect(beat.events).toEqual([]);
    expect(beat.agent).toMatchObject({ status: 'unhealthy', lastHeartbeatAt: 300 });
  });

  it('paused and resumed while open, it is still out of routing until its probe; half-open, it comes back half-open', () => {
    const opened = failTimes(fresh(), 3, 100);
    const resumed = resume(pause(opened, 200).agent, 300).agent;
    expect(resumed.status).toBe('unhealthy');
    expect(resumed.circuit).toEqual(opened.circuit);
    expect(isProbeDue(resumed, 1_100, 5_000)).toBe(true);
    const probing = halfOpen(resumed, 1_100).agent;
    const again = resume(pause(probing, 1_200).agent, 1_300).agent;
    expect(again.status).toBe('available');
    expect(routableSlots(again)).toBe(1);
  });

  it('is due for a probe after its cool-down only while it heartbeats; half-open allows one task at a time', () => {
    const open = { ...failTimes(fresh(), 3, 100), lastHeartbeatAt: 1_000 };
    expect(isProbeDue(open, 1_050, 30_000)).toBe(false);
    expect(isProbeDue(open, 1_100, 30_000)).toBe(true);
    expect(isProbeDue(open, 40_000, 30_000)).toBe(false);
    const half = halfOpen(open, 1_100);
    expect(half.agent.status).toBe('available');
    expect(half.agent.circuit).toMatchObject({ state: 'half_open', opens: 1 });
    expect(half.events.map((e) => e.type)).toEqual(['AgentCircuitHalfOpened']);
    expect(routableSlots(half.agent)).toBe(1);
    expect(routableSlots(open)).toBe(4);
  });

  it('a probe that succeeds closes it; one that fails reopens it with the cool-down doubled, up to the cap', () => {
    const half = halfOpen(failTimes(fresh(), 3), 1_100).agent;
    const closed = recordAgentOutcome(half, 'success', settings, 1_200);
    expect(closed.events.map((e) => e.type)).toEqual(['AgentCircuitClosed']);
    expect(closed.agent.circuit).toEqual({ state: 'closed', consecutiveFailures: 0, opens: 0 });
    let agent = recordAgentOutcome(half, 'failure', settings, 1_200).agent;
    expect(agent.circuit).toMatchObject({ state: 'open', opens: 2, probeAt: 3_200 });
    agent = recordAgentOutcome(halfOpen(agent, 3_200).agent, 'failure', settings, 3_300).agent;
    expect(agent.circuit).toMatchObject({ state: 'open', opens: 3, probeAt: 6_300 });
  });

  it('is off with a threshold of 0', () => {
    expect(recordAgentOutcome(fresh(), 'failure', { ...settings, failureThreshold: 0 }, 1).events).toEqual([]);
  });

  it('opens an outlier that its peers outperform, with the figures; reopens a half-open agent whose probe failed; leaves an open one be', () => {
    const verdict = { failureRatio: 0.9, peerFailureRatio: 0.05, peers: 3 };
    const opened = openAsOutlier(fresh(), verdict, settings, 100, 'upstream refused');
    expect(opened.agent).toMatchObject({ status: 'unhealthy', circuit: { state: 'open', opens: 1, probeAt: 1_100 } });
    expect(opened.events).toMatchObject([{ type: 'AgentCircuitOpened', data: { reason: 'failure_rate', failureRatio: 0.9, peerFailureRatio: 0.05, peers: 3, probeFailed: false } }]);
    expect(openAsOutlier(opened.agent, verdict, settings, 200).events).toEqual([]);
    // A probe failure only means something while half-open.
    expect(openAsOutlier(fresh(), 'probe_failed', settings, 100).events).toEqual([]);
    const half = halfOpen(opened.agent, 1_100).agent;
    const reopened = openAsOutlier(half, 'probe_failed', settings, 1_200);
    expect(reopened.agent.circuit).toMatchObject({ state: 'open', opens: 2, probeAt: 3_200 });
    expect(reopened.events).toMatchObject([{ data: { reason: 'failure_rate', probeFailed: true } }]);
    expect(openAsOutlier(fresh(), verdict, { ...settings, failureThreshold: 0 }, 1).events).toEqual([]);
  });

  it('caps how many agents of a capability may be out at once, but always lets one go', () => {
    expect(mayOpenAnother(0, 1, 50)).toBe(true);
    expect(mayOpenAnother(1, 1, 100)).toBe(false);
    expect(mayOpenAnother(0, 2, 50)).toBe(true);
    expect(mayOpenAnother(1, 2, 50)).toBe(false);
    expect(mayOpenAnother(4, 10, 50)).toBe(true);
    expect(mayOpenAnother(5, 10, 50)).toBe(false);
    expect(mayOpenAnother(0, 10, 0)).toBe(true);
    expect(mayOpenAnother(1, 10, 0)).toBe(false);
    expect(mayOpenAnother(9, 10, 100)).toBe(true);
  });
});
