import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_AGENT_LIMITS,
  InvalidStateError,
  PayloadTooLargeError,
  ValidationError,
  canHandle,
  hasCapacity,
  heartbeat,
  heartbeatMissed,
  isLive,
  pause,
  proficiencyFor,
  registerAgent,
  resume,
  terminate,
  withTaskAssigned,
  withTaskReleased,
  type Agent,
  type AgentLimits,
  type AgentStatus,
  type RegisterAgentInput,
} from '../../../src/domain/index.js';

const T0 = 1_700_000_000_000;

function input(overrides: Partial<RegisterAgentInput> = {}): RegisterAgentInput {
  return { id: 'agent-1', tenantId: 'tenant-1', name: 'Agent One', capabilities: [{ name: 'echo' }], ...overrides };
}

function newAgent(overrides: Partial<RegisterAgentInput> = {}): Agent {
  return registerAgent(input(overrides), T0).agent;
}

function expectValidation(fn: () => unknown, field: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ValidationError);
  expect((caught as ValidationError).field).toBe(field);
}

describe('registerAgent', () => {
  it('creates an available agent at version 1 with defaults and an AgentRegistered event', () => {
    const { agent, events } = registerAgent(input({ name: '  Agent One  ' }), T0);
    expect(agent).toEqual({
      id: 'agent-1',
      tenantId: 'tenant-1',
      name: 'Agent One',
      description: '',
      capabilities: [{ name: 'echo', proficiency: 3 }],
      tags: [],
      metadata: {},
      maxConcurrentTasks: 1,
      status: 'available',
      inFlight: 0,
      assignedCount: 0,
      completedCount: 0,
      failedCount: 0,
      avgLatencyMs: 0,
      lastHeartbeatAt: T0,
      registeredAt: T0,
      updatedAt: T0,
      version: 1,
    });
    expect(events).toEqual([
      {
        type: 'AgentRegistered',
        aggregateType: 'agent',
        aggregateId: 'agent-1',
        tenantId: 'tenant-1',
        version: 1,
        occurredAt: T0,
        data: { name: 'Agent One', capabilities: [{ name: 'echo', proficiency: 3 }], tags: [], maxConcurrentTasks: 1 },
      },
    ]);
  });

  it('keeps explicit options and de-duplicates tags', () => {
    const agent = newAgent({
      description: 'does things',
      capabilities: [
        { name: 'echo', proficiency: 5 },
        { name: 'ns/sum', proficiency: 1 },
      ],
      tags: ['gpu', 'eu-west', 'gpu'],
      metadata: { region: 'eu' },
      maxConcurrentTasks: 8,
    });
    expect(agent.description).toBe('does things');
    expect(agent.capabilities).toEqual([
      { name: 'echo', proficiency: 5 },
      { name: 'ns/sum', proficiency: 1 },
    ]);
    expect(agent.tags).toEqual(['gpu', 'eu-west']);
    expect(agent.metadata).toEqual({ region: 'eu' });
    expect(agent.maxConcurrentTasks).toBe(8);
  });

  describe('id', () => {
    it.each(['', 'ab', 'a'.repeat(257), 'has space', 'slash/id', 'star*', 'gt>', 'ünï', 'comma,id', 'tab\tid'])('rejects %j', (id) => {
      expectValidation(() => registerAgent(input({ id }), T0), 'id');
    });

    it.each(['abc', 'a'.repeat(256), 'A-z.0_9:x', 'agent:eu-1.v2', '---'])('accepts %j', (id) => {
      expect(registerAgent(input({ id }), T0).agent.id).toBe(id);
    });

    it('property: accepts exactly 3-256 characters of [A-Za-z0-9._:-]', () => {
      const allowed = 'abcXYZ019._:-';
      fc.assert(
        fc.property(fc.string({ unit: fc.constantFrom(...allowed, ' ', '/', '*', 'é'), minLength: 0, maxLength: 300 }), (id) => {
          const valid = id.length >= 3 && id.length <= 256 && [...id].every((ch) => allowed.includes(ch));
          if (valid) expect(registerAgent(input({ id }), T0).agent.id).toBe(id);
          else expectValidation(() => registerAgent(input({ id }), T0), 'id');
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('name and description', () => {
    it.each(['', '   ', 'n'.repeat(257)])('rejects name %j', (name) => {
      expectValidation(() => registerAgent(input({ name }), T0), 'name');
    });

    it('accepts a 256-character name and limits description to 4096 characters', () => {
      expect(newAgent({ name: 'n'.repeat(256) }).name).toHaveLength(256);
      expect(newAgent({ description: 'd'.repeat(4096) }).description).toHaveLength(4096);
      expectValidation(() => registerAgent(input({ description: 'd'.repeat(4097) }), T0), 'description');
    });
  });

  describe('capabilities', () => {
    it('must not be empty or missing', () => {
      expectValidation(() => registerAgent(input({ capabilities: [] }), T0), 'capabilities');
      expectValidation(() => registerAgent(input({ capabilities: undefined as never }), T0), 'capabilities');
    });

    it('must be unique', () => {
      expectValidation(
        () => registerAgent(input({ capabilities: [{ name: 'echo' }, { name: 'sum' }, { name: 'echo', proficiency: 5 }] }), T0),
        'capabilities[2].name',
      );
    });

    it('must be valid names', () => {
      expectValidation(() => registerAgent(input({ capabilities: [{ name: 'ok' }, { name: 'not ok' }] }), T0), 'capabilities[1].name');
      expectValidation(() => registerAgent(input({ capabilities: [{ name: '' }] }), T0), 'capabilities[0].name');
    });

    it('are at most maxCapabilities', () => {
      const many = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `cap-${i}` }));
      expect(newAgent({ capabilities: many(DEFAULT_AGENT_LIMITS.maxCapabilities) }).capabilities).toHaveLength(DEFAULT_AGENT_LIMITS.maxCapabilities);
      expectValidation(() => registerAgent(input({ capabilities: many(DEFAULT_AGENT_LIMITS.maxCapabilities + 1) }), T0), 'capabilities');
    });

    it.each([0, 6, -1, 2.5, Number.NaN])('rejects proficiency %s', (proficiency) => {
      expectValidation(
        () => registerAgent(input({ capabilities: [{ name: 'echo', proficiency: 3 }, { name: 'sum', proficiency }] }), T0),
        'capabilities[1].proficiency',
      );
    });

    it('accepts proficiency 1 to 5', () => {
      for (let proficiency = 1; proficiency <= 5; proficiency++) {
        expect(newAgent({ capabilities: [{ name: 'echo', proficiency }] }).capabilities[0]!.proficiency).toBe(proficiency);
      }
    });
  });

  describe('tags', () => {
    it('must be valid names and at most maxTags', () => {
      expectValidation(() => registerAgent(input({ tags: ['ok', 'bad tag'] }), T0), 'tags[1]');
      const tags = Array.from({ length: DEFAULT_AGENT_LIMITS.maxTags + 1 }, (_, i) => `t${i}`);
      expectValidation(() => registerAgent(input({ tags }), T0), 'tags');
      expect(newAgent({ tags: tags.slice(1) }).tags).toHaveLength(DEFAULT_AGENT_LIMITS.maxTags);
    });
  });

  describe('metadata', () => {
    const limits: AgentLimits = { ...DEFAULT_AGENT_LIMITS, maxMetadataBytes: 20 };

    it('accepts metadata at the byte limit and rejects one byte over', () => {
      // {"k":"0123456789ab"} is 20 bytes
      expect(registerAgent(input({ metadata: { k: '0123456789ab' } }), T0, limits).agent.metadata).toEqual({ k: '0123456789ab' });
      let caught: unknown;
      try {
        registerAgent(input({ metadata: { k: '0123456789abc' } }), T0, limits);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(PayloadTooLargeError);
      expect((caught as PayloadTooLargeError).details).toEqual({ limitBytes: 20, actualBytes: 21 });
    });

    it('enforces the default 16 KiB limit', () => {
      expect(() => registerAgent(input({ metadata: { blob: 'x'.repeat(16 * 1024) } }), T0)).toThrow(PayloadTooLargeError);
    });
  });

  describe('maxConcurrentTasks', () => {
    it.each([0, -1, 1001, 1.5, Number.NaN])('rejects %s', (maxConcurrentTasks) => {
      expectValidation(() => registerAgent(input({ maxConcurrentTasks }), T0), 'maxConcurrentTasks');
    });

    it.each([1, 1000])('accepts %s', (maxConcurrentTasks) => {
      expect(newAgent({ maxConcurrentTasks }).maxConcurrentTasks).toBe(maxConcurrentTasks);
    });

    it('honours a custom ceiling', () => {
      const limits = { ...DEFAULT_AGENT_LIMITS, maxConcurrentTasksCeiling: 4 };
      expect(registerAgent(input({ maxConcurrentTasks: 4 }), T0, limits).agent.maxConcurrentTasks).toBe(4);
      expectValidation(() => registerAgent(input({ maxConcurrentTasks: 5 }), T0, limits), 'maxConcurrentTasks');
    });
  });
});

describe('capability helpers', () => {
  it('proficiencyFor and canHandle look up the capability list', () => {
    const agent = newAgent({ capabilities: [{ name: 'echo', proficiency: 4 }, { name: 'sum' }] });
    expect(proficiencyFor(agent, 'echo')).toBe(4);
    expect(proficiencyFor(agent, 'sum')).toBe(3);
    expect(proficiencyFor(agent, 'other')).toBe(0);
    expect(canHandle(agent, 'sum')).toBe(true);
    expect(canHandle(agent, 'other')).toBe(false);
  });

  it.each<[AgentStatus, boolean]>([
    ['available', true],
    ['busy', true],
    ['paused', false],
    ['unhealthy', false],
    ['terminated', false],
  ])('isLive(%s) = %s', (status, live) => {
    expect(isLive({ ...newAgent(), status })).toBe(live);
  });

  it('hasCapacity needs a live agent below its limit', () => {
    const agent = newAgent({ maxConcurrentTasks: 2 });
    expect(hasCapacity({ ...agent, inFlight: 1 })).toBe(true);
    expect(hasCapacity({ ...agent, inFlight: 2, status: 'busy' })).toBe(false);
    expect(hasCapacity({ ...agent, status: 'paused' })).toBe(false);
    expect(hasCapacity({ ...agent, status: 'unhealthy' })).toBe(false);
  });
});

describe('load counters', () => {
  it('withTaskAssigned counts and turns busy at capacity, without a version bump', () => {
    const agent = newAgent({ maxConcurrentTasks: 2 });
    const one = withTaskAssigned(agent, T0 + 1);
    expect(one).toMatchObject({ inFlight: 1, assignedCount: 1, status: 'available', updatedAt: T0 + 1, version: 1 });
    const two = withTaskAssigned(one, T0 + 2);
    expect(two).toMatchObject({ inFlight: 2, assignedCount: 2, status: 'busy', version: 1 });
    expect(hasCapacity(two)).toBe(false);
    expect(agent.inFlight).toBe(0);
  });

  it('withTaskReleased frees a slot, counts the outcome and averages latency', () => {
    const busy = withTaskAssigned(withTaskAssigned(newAgent({ maxConcurrentTasks: 2 }), T0), T0);
    const a = withTaskReleased(busy, 'completed', 1000, T0 + 5);
    expect(a).toMatchObject({ inFlight: 1, status: 'available', completedCount: 1, failedCount: 0, avgLatencyMs: 1000, version: 1, updatedAt: T0 + 5 });
    const b = withTaskReleased(a, 'failed', 2000, T0 + 6);
    // exponential moving average with smoothing 0.2
    expect(b).toMatchObject({ inFlight: 0, status: 'available', completedCount: 1, failedCount: 1, avgLatencyMs: 1200 });
    const c = withTaskReleased(b, 'released', undefined, T0 + 7);
    expect(c).toMatchObject({ inFlight: 0, completedCount: 1, failedCount: 1, avgLatencyMs: 1200 });
  });

  it('does not move a paused, unhealthy or terminated agent to available/busy', () => {
    for (const status of ['paused', 'unhealthy', 'terminated'] as const) {
      const agent = { ...newAgent({ maxConcurrentTasks: 1 }), status };
      const assigned = withTaskAssigned(agent, T0);
      expect(assigned.status).toBe(status);
      expect(assigned.inFlight).toBe(1);
      expect(withTaskReleased(assigned, 'completed', 10, T0).status).toBe(status);
    }
  });

  it('property: status tracks load (busy iff inFlight >= max), counters add up, inFlight never negative', () => {
    const step = fc.oneof(
      fc.constant({ kind: 'assign' as const }),
      // A finished attempt always carries its latency (the lease holder was assigned at a known time);
      // only an undone reservation ('released') may come without one.
      fc.record({
        kind: fc.constant('release' as const),
        outcome: fc.constantFrom('completed' as const, 'failed' as const, 'released' as const),
        latency: fc.integer({ min: 0, max: 100_000 }),
      }),
      fc.record({ kind: fc.constant('release' as const), outcome: fc.constant('released' as const), latency: fc.constant(undefined) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(step, { maxLength: 60 }), (max, steps) => {
        let agent = newAgent({ maxConcurrentTasks: max });
        let inFlight = 0;
        let assigned = 0;
        let completed = 0;
        let failed = 0;
        let minLatency = Infinity;
        let maxLatency = -Infinity;
        for (const s of steps) {
          if (s.kind === 'assign') {
            agent = withTaskAssigned(agent, T0);
            inFlight++;
            assigned++;
          } else {
            agent = withTaskReleased(agent, s.outcome, s.latency, T0);
            inFlight = Math.max(0, inFlight - 1);
            if (s.outcome === 'completed') completed++;
            if (s.outcome === 'failed') failed++;
            if (s.latency !== undefined) {
              minLatency = Math.min(minLatency, s.latency);
              maxLatency = Math.max(maxLatency, s.latency);
            }
          }
          expect(agent.inFlight).toBe(inFlight);
          expect(agent.assignedCount).toBe(assigned);
          expect(agent.completedCount).toBe(completed);
          expect(agent.failedCount).toBe(failed);
          expect(agent.status).toBe(inFlight >= max ? 'busy' : 'available');
          expect(hasCapacity(agent)).toBe(inFlight < max);
          expect(agent.version).toBe(1);
          if (minLatency !== Infinity) {
            // an average of samples stays within their range
            expect(agent.avgLatencyMs).toBeGreaterThanOrEqual(minLatency - 1e-9);
            expect(agent.avgLatencyMs).toBeLessThanOrEqual(maxLatency + 1e-9);
          } else {
            expect(agent.avgLatencyMs).toBe(0);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('lifecycle transitions', () => {
  function expectEvent(before: Agent, change: { agent: Agent; events: unknown[] }, type: string, now: number): void {
    expect(change.events).toEqual([
      expect.objectContaining({ type, aggregateType: 'agent', aggregateId: before.id, tenantId: before.tenantId, version: before.version + 1, occurredAt: now }),
    ]);
    expect(change.agent.version).toBe(before.version + 1);
    expect(change.agent.updatedAt).toBe(now);
  }

  describe('heartbeat', () => {
    it('refreshes a live agent without an event or version bump', () => {
      const agent = newAgent();
      const change = heartbeat(agent, T0 + 1000);
      expect(change.events).toEqual([]);
      expect(change.agent.lastHeartbeatAt).toBe(T0 + 1000);
      expect(change.agent.version).toBe(1);
      expect(change.agent.status).toBe('available');
    });

    it('keeps a paused agent paused', () => {
      const paused = pause(newAgent(), T0).agent;
      const change = heartbeat(paused, T0 + 1000);
      expect(change.events).toEqual([]);
      expect(change.agent.status).toBe('paused');
      expect(change.agent.lastHeartbeatAt).toBe(T0 + 1000);
    });

    it('recovers an unhealthy agent to available, or busy when at capacity', () => {
      const sick = heartbeatMissed(newAgent({ maxConcurrentTasks: 2 }), T0 + 10).agent;
      const change = heartbeat(sick, T0 + 20);
      expectEvent(sick, change, 'AgentRecovered', T0 + 20);
      expect(change.agent.status).toBe('available');
      expect(change.agent.lastHeartbeatAt).toBe(T0 + 20);

      const full = { ...sick, inFlight: 2 };
      expect(heartbeat(full, T0 + 20).agent.status).toBe('busy');
    });

    it('refuses a terminated agent', () => {
      expect(() => heartbeat(terminate(newAgent(), T0).agent, T0 + 1)).toThrow(InvalidStateError);
    });
  });

  describe('heartbeatMissed', () => {
    it.each(['available', 'busy'] as const)('marks a %s agent unhealthy', (status) => {
      const before = { ...newAgent(), status, lastHeartbeatAt: T0 - 5 };
      const change = heartbeatMissed(before, T0 + 30);
      expectEvent(before, change, 'AgentHeartbeatMissed', T0 + 30);
      expect(change.agent.status).toBe('unhealthy');
      expect(change.events[0]!.data).toEqual({ lastHeartbeatAt: T0 - 5 });
      expect(isLive(change.agent)).toBe(false);
    });

    it.each(['paused', 'unhealthy', 'terminated'] as const)('leaves a %s agent alone', (status) => {
      const before = { ...newAgent(), status };
      const change = heartbeatMissed(before, T0);
      expect(change.events).toEqual([]);
      expect(change.agent).toBe(before);
    });
  });

  describe('pause / resume', () => {
    it.each(['available', 'busy', 'unhealthy'] as const)('pauses a %s agent', (status) => {
      const before = { ...newAgent(), status };
      const change = pause(before, T0 + 1);
      expectEvent(before, change, 'AgentPaused', T0 + 1);
      expect(change.agent.status).toBe('paused');
    });

    it('pausing twice is a no-op; pausing a terminated agent throws', () => {
      const paused = pause(newAgent(), T0).agent;
      const again = pause(paused, T0 + 1);
      expect(again.events).toEqual([]);
      expect(again.agent).toBe(paused);
      expect(() => pause(terminate(newAgent(), T0).agent, T0)).toThrow(InvalidStateError);
    });

    it('resume returns to available, or busy when still at capacity', () => {
      const paused = pause(newAgent({ maxConcurrentTasks: 2 }), T0).agent;
      const change = resume(paused, T0 + 50);
      expectEvent(paused, change, 'AgentResumed', T0 + 50);
      expect(change.agent.status).toBe('available');
      expect(change.agent.lastHeartbeatAt).toBe(T0 + 50);

      const pausedFull = { ...paused, inFlight: 2 };
      expect(resume(pausedFull, T0 + 50).agent.status).toBe('busy');
    });

    it('resume of a live agent is a no-op; of an unhealthy or terminated one throws', () => {
      const live = newAgent();
      const change = resume(live, T0);
      expect(change.events).toEqual([]);
      expect(change.agent).toBe(live);
      expect(() => resume({ ...live, status: 'unhealthy' }, T0)).toThrow(InvalidStateError);
      expect(() => resume({ ...live, status: 'terminated' }, T0)).toThrow(InvalidStateError);
    });
  });

  describe('terminate', () => {
    it.each(['available', 'busy', 'paused', 'unhealthy'] as const)('terminates a %s agent', (status) => {
      const before = { ...newAgent(), status };
      const change = terminate(before, T0 + 9);
      expectEvent(before, change, 'AgentTerminated', T0 + 9);
      expect(change.agent.status).toBe('terminated');
      expect(hasCapacity(change.agent)).toBe(false);
    });

    it('is idempotent', () => {
      const gone = terminate(newAgent(), T0).agent;
      const again = terminate(gone, T0 + 1);
      expect(again.events).toEqual([]);
      expect(again.agent).toBe(gone);
    });
  });

  it('property: a sequence of lifecycle calls bumps the version once per event', () => {
    const ops = ['heartbeat', 'missed', 'pause', 'resume', 'terminate'] as const;
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...ops), { maxLength: 30 }), (seq) => {
        let agent = newAgent();
        let events = 1;
        seq.forEach((op, i) => {
          const now = T0 + i + 1;
          try {
            const change =
              op === 'heartbeat'
                ? heartbeat(agent, now)
                : op === 'missed'
                  ? heartbeatMissed(agent, now)
                  : op === 'pause'
                    ? pause(agent, now)
                    : op === 'resume'
                      ? resume(agent, now)
                      : terminate(agent, now);
            change.events.forEach((e, k) => expect(e.version).toBe(agent.version + k + 1));
            events += change.events.length;
            agent = change.agent;
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidStateError);
          }
          expect(agent.version).toBe(events);
          // once terminated, always terminated
          if (seq.slice(0, i + 1).includes('terminate')) expect(agent.status).toBe('terminated');
        });
      }),
      { numRuns: 200 },
    );
  });
});
