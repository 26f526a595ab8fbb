import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_TASK_LIMITS,
  MAX_ERROR_MESSAGE_CHARS,
  ConflictError,
  InvalidStateError,
  LeaseNotHeldError,
  PayloadTooLargeError,
  ValidationError,
  assign,
  broadcastCopy,
  cancel,
  complete,
  completeBroadcast,
  completeFromCache,
  expireDeadline,
  extendLease,
  fail,
  fanOut,
  isTerminal,
  releaseLease,
  requeueDeadLetter,
  retryBackoffMs,
  start,
  submitTask,
  type DomainEvent,
  type SubmitTaskInput,
  type Task,
  type TaskLimits,
} from '../../../src/domain/index.js';

const T0 = 1_700_000_000_000;

function submitInput(overrides: Partial<SubmitTaskInput> = {}): SubmitTaskInput {
  return { id: 'task-1', tenantId: 'tenant-1', capability: 'echo', input: { hello: 'world' }, ...overrides };
}

function newTask(overrides: Partial<SubmitTaskInput> = {}, now = T0): Task {
  return submitTask(submitInput(overrides), now).task;
}

/** A change must emit events whose versions run from before.version + 1 up by one, ending at the task's version. */
function expectVersionChain(before: Task, change: { task: Task; events: DomainEvent[] }, types: string[]): void {
  expect(change.events.map((e) => e.type)).toEqual(types);
  change.events.forEach((e, i) => {
    expect(e.version).toBe(before.version + i + 1);
    expect(e.aggregateType).toBe('task');
    expect(e.aggregateId).toBe(before.id);
    expect(e.tenantId).toBe(before.tenantId);
  });
  expect(change.task.version).toBe(before.version + types.length);
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
  expect((caught as ValidationError).code).toBe('validation');
}

/** queued -> assigned (-> running) held by `agentId`. */
function held(agentId = 'agent-a', run = false, overrides: Partial<SubmitTaskInput> = {}, now = T0 + 10): Task {
  let task = assign(newTask(overrides), agentId, now).task;
  if (run) task = start(task, agentId, now + 1).task;
  return task;
}

describe('submitTask', () => {
  it('creates a queued task at version 1 with defaults and one TaskSubmitted event', () => {
    const { task, events } = submitTask({ id: 't-1', tenantId: 'ten', capability: 'echo' }, T0);
    expect(task).toMatchObject({
      id: 't-1',
      tenantId: 'ten',
      capability: 'echo',
      input: null,
      priority: 5,
      routing: { strategy: 'round_robin' },
      maxAttempts: DEFAULT_TASK_LIMITS.defaultMaxAttempts,
      leaseMs: DEFAULT_TASK_LIMITS.defaultLeaseMs,
      status: 'queued',
      attempts: 0,
      availableAt: T0,
      createdAt: T0,
      updatedAt: T0,
      version: 1,
    });
    expect(task.agentId).toBeUndefined();
    expect(task.deadline).toBeUndefined();
    expect('idempotencyKey' in task).toBe(false);
    expect(events).toHaveLength(1);
    expect(events[0]).toEqual({
      type: 'TaskSubmitted',
      aggregateType: 'task',
      aggregateId: 't-1',
      tenantId: 'ten',
      version: 1,
      occurredAt: T0,
      data: { capability: 'echo', priority: 5, routing: { strategy: 'round_robin' } },
    });
  });

  it('keeps explicit options', () => {
    const { task } = submitTask(
      submitInput({
        priority: 9,
        routing: { strategy: 'affinity', affinityKey: 'user-42' },
        maxAttempts: 7,
        leaseMs: 5000,
        deadline: T0 + 60_000,
        idempotencyKey: 'idem-1',
      }),
      T0,
    );
    expect(task.priority).toBe(9);
    expect(task.routing).toEqual({ strategy: 'affinity', affinityKey: 'user-42' });
    expect(task.maxAttempts).toBe(7);
    expect(task.leaseMs).toBe(5000);
    expect(task.deadline).toBe(T0 + 60_000);
    expect(task.idempotencyKey).toBe('idem-1');
    expect(task.input).toEqual({ hello: 'world' });
  });

  describe('capability name', () => {
    it.each(['', 'has space', 'star*', 'gt>', 'tab\tname', 'a'.repeat(129), 'ünïcode', 'comma,name'])('rejects %j', (capability) => {
      expectValidation(() => submitTask(submitInput({ capability }), T0), 'capability');
    });

    it.each(['a', 'a'.repeat(128), 'ns/sub:cap-1.v_2', 'UPPER9'])('accepts %j', (capability) => {
      expect(submitTask(submitInput({ capability }), T0).task.capability).toBe(capability);
    });
  });

  describe('priority', () => {
    it.each([-1, 10, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 100])('rejects %s', (priority) => {
      expectValidation(() => submitTask(submitInput({ priority }), T0), 'priority');
    });

    it('accepts every integer from 0 to 9', () => {
      for (let priority = 0; priority <= 9; priority++) {
        expect(submitTask(submitInput({ priority }), T0).task.priority).toBe(priority);
      }
    });
  });

  describe('routing', () => {
    it('rejects an unknown strategy', () => {
      expectValidation(
        () => submitTask(submitInput({ routing: { strategy: 'random' as never } }), T0),
        'routing.strategy',
      );
    });

    it('accepts every known strategy', () => {
      for (const strategy of ['round_robin', 'least_loaded', 'load_balanced', 'least_connections', 'capability_based', 'priority', 'broadcast'] as const) {
        expect(submitTask(submitInput({ routing: { strategy } }), T0).task.routing).toEqual({ strategy });
      }
    });

    it('requires an affinityKey for the affinity strategy', () => {
      expectValidation(() => submitTask(submitInput({ routing: { strategy: 'affinity' } }), T0), 'routing.affinityKey');
      expectValidation(
        () => submitTask(submitInput({ routing: { strategy: 'affinity', affinityKey: '' } }), T0),
        'routing.affinityKey',
      );
    });

    it('limits affinityKey to 512 characters', () => {
      expect(submitTask(submitInput({ routing: { strategy: 'affinity', affinityKey: 'k'.repeat(512) } }), T0).task.routing.affinityKey).toHaveLength(512);
      expectValidation(
        () => submitTask(submitInput({ routing: { strategy: 'affinity', affinityKey: 'k'.repeat(513) } }), T0),
        'routing.affinityKey',
      );
    });
  });

  describe('maxAttempts', () => {
    it.each([0, -1, 101, 2.5, Number.NaN])('rejects %s', (maxAttempts) => {
      expectValidation(() => submitTask(submitInput({ maxAttempts }), T0), 'maxAttempts');
    });

    it.each([1, 100])('accepts %s', (maxAttempts) => {
      expect(submitTask(submitInput({ maxAttempts }), T0).task.maxAttempts).toBe(maxAttempts);
    });
  });

  describe('leaseMs', () => {
    const { minLeaseMs, maxLeaseMs } = DEFAULT_TASK_LIMITS;

    it.each([minLeaseMs - 1, maxLeaseMs + 1, 0, -5, 1000.5, Number.NaN])('rejects %s', (leaseMs) => {
      expectValidation(() => submitTask(submitInput({ leaseMs }), T0), 'leaseMs');
    });

    it.each([minLeaseMs, maxLeaseMs])('accepts the bound %s', (leaseMs) => {
      expect(submitTask(submitInput({ leaseMs }), T0).task.leaseMs).toBe(leaseMs);
    });

    it('uses the limits passed in', () => {
      const limits: TaskLimits = { ...DEFAULT_TASK_LIMITS, minLeaseMs: 1000, maxLeaseMs: 2000, defaultLeaseMs: 1500 };
      expect(submitTask(submitInput(), T0, limits).task.leaseMs).toBe(1500);
      expectValidation(() => submitTask(submitInput({ leaseMs: 999 }), T0, limits), 'leaseMs');
      expectValidation(() => submitTask(submitInput({ leaseMs: 2001 }), T0, limits), 'leaseMs');
    });
  });

  describe('deadline', () => {
    it.each([T0, T0 - 1, 0, Number.NaN, Number.POSITIVE_INFINITY])('rejects %s (not strictly in the future)', (deadline) => {
      expectValidation(() => submitTask(submitInput({ deadline }), T0), 'deadline');
    });

    it('accepts a deadline one millisecond ahead', () => {
      expect(submitTask(submitInput({ deadline: T0 + 1 }), T0).task.deadline).toBe(T0 + 1);
    });
  });

  describe('input size', () => {
    const small: TaskLimits = { ...DEFAULT_TASK_LIMITS, maxInputBytes: 10 };

    it('accepts input exactly at the byte limit', () => {
      // JSON "12345678" is 10 bytes.
      expect(submitTask(submitInput({ input: '12345678' }), T0, small).task.input).toBe('12345678');
    });

    it('rejects input one byte over the limit with PayloadTooLargeError', () => {
      let caught: unknown;
      try {
        submitTask(submitInput({ input: '123456789' }), T0, small);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(PayloadTooLargeError);
      expect((caught as PayloadTooLargeError).code).toBe('payload_too_large');
      expect((caught as PayloadTooLargeError).details).toEqual({ limitBytes: 10, actualBytes: 11 });
    });

    it('counts UTF-8 bytes, not characters', () => {
      // "éééé" is 4 characters but 8 bytes, plus 2 quotes = 10 bytes; one more é is 12.
      expect(() => submitTask(submitInput({ input: 'éééé' }), T0, small)).not.toThrow();
      expect(() => submitTask(submitInput({ input: 'ééééé' }), T0, small)).toThrow(PayloadTooLargeError);
    });

    it('refuses the NUL character in the input, the output, the error and the routing key, naming the field; the six characters \\u0000 are text like any other', () => {
      for (const input of ['a\u0000b', { deep: [{ text: '\u0000' }] }, { 'key\u0000': 1 }, '\\\u0000']) expectValidation(() => submitTask(submitInput({ input }), T0), 'input');
      for (const input of ['\\u0000', { text: 'C:\\u0000' }, '\\\\u0000']) expect(submitTask(submitInput({ input }), T0).task.input).toEqual(input);
      expectValidation(() => submitTask(submitInput({ routing: { strategy: 'affinity', affinityKey: 'k\u0000' } }), T0), 'routing.affinityKey');
      expectValidation(() => submitTask(submitInput({ cache: { ttlSeconds: 60, key: 'k\u0000' } }), T0), 'cache.key');
      expectValidation(() => complete(held(), 'agent-a', { text: 'a\u0000b' }, T0 + 20), 'output');
      expectValidation(() => fail(held(), 'agent-a', { message: 'broke', code: '\u0000' }, true, 0, T0 + 20), 'error');
      // A surrogate without its pair is not text either; a pair (an emoji) is.
      for (const input of ['\ud800', { text: 'a\udfffb' }]) expectValidation(() => submitTask(submitInput({ input }), T0), 'input');
      expect(submitTask(submitInput({ input: 'a\ud83d\ude00b' }), T0).task.input).toBe('a\ud83d\ude00b');
    });

    it('enforces the default 1 MiB limit', () => {
      expect(() => submitTask(submitInput({ input: 'x'.repeat(1024 * 1024) }), T0)).toThrow(PayloadTooLargeError);
      expect(() => submitTask(submitInput({ input: 'x'.repeat(1024 * 1024 - 2) }), T0)).not.toThrow();
    });
  });
});

describe('assign / start / extendLease', () => {
  it('assign moves queued -> assigned, takes an attempt and sets the lease', () => {
    const before = newTask({ leaseMs: 5000 });
    const change = assign(before, 'agent-a', T0 + 100);
    expectVersionChain(before, change, ['TaskAssigned']);
    expect(change.task).toMatchObject({
      status: 'assigned',
      agentId: 'agent-a',
      attempts: 1,
      assignedAt: T0 + 100,
      leaseExpiresAt: T0 + 5100,
      updatedAt: T0 + 100,
    });
    expect(change.events[0]!.data).toEqual({ agentId: 'agent-a', attempt: 1, leaseExpiresAt: T0 + 5100 });
    expect(change.events[0]!.occurredAt).toBe(T0 + 100);
    // the input task is not mutated
    expect(before.status).toBe('queued');
    expect(before.version).toBe(1);
  });

  it.each(['assigned', 'running', 'completed', 'failed', 'dead_lettered', 'canceled'] as const)('assign refuses a %s task', (status) => {
    expect(() => assign({ ...newTask(), status }, 'agent-a', T0)).toThrow(InvalidStateError);
  });

  it('start moves assigned -> running once; a repeat start is a no-op', () => {
    const before = held('agent-a');
    const change = start(before, 'agent-a', T0 + 20);
    expectVersionChain(before, change, ['TaskStarted']);
    expect(change.task.status).toBe('running');
    expect(change.task.startedAt).toBe(T0 + 20);
    expect(change.events[0]!.data).toEqual({ agentId: 'agent-a', attempt: 1 });

    const again = start(change.task, 'agent-a', T0 + 30);
    expect(again.events).toEqual([]);
    expect(again.task).toBe(change.task);
  });

  it('start by an agent that does not hold the lease throws LeaseNotHeldError', () => {
    expect(() => start(held('agent-a'), 'agent-b', T0)).toThrow(LeaseNotHeldError);
    expect(() => start(newTask(), 'agent-a', T0)).toThrow(LeaseNotHeldError);
  });

  it('extendLease moves the expiry to now + leaseMs', () => {
    for (const run of [false, true]) {
      const before = held('agent-a', run);
      const change = extendLease(before, 'agent-a', 60_000, T0 + 500);
      expectVersionChain(before, change, ['TaskLeaseExtended']);
      expect(change.task.leaseExpiresAt).toBe(T0 + 60_500);
      expect(change.task.status).toBe(before.status);
      expect(change.events[0]!.data).toEqual({ agentId: 'agent-a', leaseExpiresAt: T0 + 60_500 });
    }
  });

  it('extendLease validates leaseMs and the holder', () => {
    const task = held('agent-a');
    expectValidation(() => extendLease(task, 'agent-a', DEFAULT_TASK_LIMITS.minLeaseMs - 1, T0), 'leaseMs');
    expectValidation(() => extendLease(task, 'agent-a', DEFAULT_TASK_LIMITS.maxLeaseMs + 1, T0), 'leaseMs');
    expect(() => extendLease(task, 'agent-b', 1000, T0)).toThrow(LeaseNotHeldError);
    expect(() => extendLease(newTask(), 'agent-a', 1000, T0)).toThrow(LeaseNotHeldError);
  });
});

describe('complete', () => {
  it.each([false, true])('completes a held task (running=%s)', (run) => {
    const before = held('agent-a', run);
    const change = complete(before, 'agent-a', { answer: 42 }, T0 + 1000);
    expectVersionChain(before, change, ['TaskCompleted']);
    expect(change.task).toMatchObject({ status: 'completed', output: { answer: 42 }, finishedAt: T0 + 1000, agentId: 'agent-a' });
    expect(change.task.leaseExpiresAt).toBeUndefined();
    expect(change.events[0]!.data).toEqual({ agentId: 'agent-a', attempt: 1 });
    expect(isTerminal(change.task)).toBe(true);
  });

  it('stores null when there is no output', () => {
    expect(complete(held(), 'agent-a', undefined, T0 + 1).task.output).toBeNull();
  });

  it('clears the error left by an earlier failed attempt', () => {
    const retried = fail(held(), 'agent-a', { message: 'boom' }, true, 0, T0 + 20).task;
    expect(retried.error).toBeDefined();
    const done = complete(assign(retried, 'agent-b', T0 + 30).task, 'agent-b', 'ok', T0 + 40).task;
    expect(done.error).toBeUndefined();
    expect(done.attempts).toBe(2);
  });

  it('is idempotent for the same agent and output (key order aside): no new events, same task', () => {
    const first = complete(held('agent-a', true), 'agent-a', { a: 1, b: [1, { c: null }] }, T0 + 50);
    const second = complete(first.task, 'agent-a', { b: [1, { c: null }], a: 1 }, T0 + 60);
    expect(second.events).toEqual([]);
    expect(second.task).toBe(first.task);
    expect(second.task.version).toBe(first.task.version);
    const empty = complete(held('agent-a', true), 'agent-a', undefined, T0 + 50).task;
    expect(complete(empty, 'agent-a', null, T0 + 60).events).toEqual([]);
  });

  it('refuses a second completion with another output (409), keeping the first', () => {
    const first = complete(held('agent-a', true), 'agent-a', 'out', T0 + 50);
    expect(() => complete(first.task, 'agent-a', 'different', T0 + 60)).toThrow(ConflictError);
    expect(() => complete(first.task, 'agent-a', ['out'], T0 + 60)).toThrow(/already completed with another output/);
  });

  it('throws LeaseNotHeldError for a non-holder, including after another agent completed', () => {
    const task = held('agent-a', true);
    expect(() => complete(task, 'agent-b', 'x', T0)).toThrow(LeaseNotHeldError);
    const done = complete(task, 'agent-a', 'x', T0).task;
    expect(() => complete(done, 'agent-b', 'x', T0)).toThrow(LeaseNotHeldError);
    expect(() => complete(newTask(), 'agent-a', 'x', T0)).toThrow(LeaseNotHeldError);
    expect(() => complete(cancel(task, T0).task, 'agent-a', 'x', T0)).toThrow(LeaseNotHeldError);
  });

  it('rejects output over the byte limit', () => {
    const limits: TaskLimits = { ...DEFAULT_TASK_LIMITS, maxOutputBytes: 10 };
    expect(() => complete(held(), 'agent-a', '123456789', T0, limits)).toThrow(PayloadTooLargeError);
    expect(complete(held(), 'agent-a', '12345678', T0, limits).task.status).toBe('completed');
  });
});

describe('fail', () => {
  it('a retryable failure re-queues with availableAt = now + backoff', () => {
    const before = held('agent-a', true, { maxAttempts: 3 });
    const change = fail(before, 'agent-a', { message: 'boom', code: 'E_BOOM' }, true, 2500, T0 + 100);
    expectVersionChain(before, change, ['TaskFailed', 'TaskRetried']);
    expect(change.task).toMatchObject({
      status: 'queued',
      attempts: 1,
      availableAt: T0 + 2600,
      error: { message: 'boom', code: 'E_BOOM', retryable: true },
    });
    expect(change.task.agentId).toBeUndefined();
    expect(change.task.leaseExpiresAt).toBeUndefined();
    expect(change.events[0]!.data).toMatchObject({ agentId: 'agent-a', attempt: 1, retryable: true });
    expect(change.events[1]!.data).toEqual({ attempt: 1, reason: 'E_BOOM', backoffMs: 2500 });
  });

  it('keeps at most MAX_ERROR_MESSAGE_CHARS of a reported message, on the task and in its events', () => {
    const change = fail(held(), 'agent-a', { message: 'x'.repeat(MAX_ERROR_MESSAGE_CHARS * 100) }, false, 10, T0);
    expect(change.task.error!.message).toHaveLength(MAX_ERROR_MESSAGE_CHARS);
    expect(JSON.stringify(change.events).length).toBeLessThan(MAX_ERROR_MESSAGE_CHARS * 2 + 2000);
  });

  it('uses reason "failed" when the error has no code', () => {
    const change = fail(held(), 'agent-a', { message: 'boom' }, true, 10, T0);
    expect(change.events[1]!.data).toMatchObject({ reason: 'failed' });
  });

  it('dead-letters once maxAttempts are used up', () => {
    let task = newTask({ maxAttempts: 3 });
    for (let attempt = 1; attempt <= 3; attempt++) {
      task = assign(task, 'agent-a', T0 + attempt * 10).task;
      expect(task.attempts).toBe(attempt);
      const before = task;
      const change = fail(task, 'agent-a', { message: `boom ${attempt}` }, true, 100, T0 + attempt * 10 + 1);
      if (attempt < 3) {
        expectVersionChain(before, change, ['TaskFailed', 'TaskRetried']);
        expect(change.task.status).toBe('queued');
      } else {
        expectVersionChain(before, change, ['TaskFailed', 'TaskDeadLettered']);
        expect(change.task.status).toBe('dead_lettered');
        expect(change.task.finishedAt).toBe(T0 + 31);
        expect(change.task.leaseExpiresAt).toBeUndefined();
        expect(change.task.error).toEqual({ message: 'boom 3', retryable: true });
        expect(change.events[1]!.data).toMatchObject({ attempts: 3 });
        expect(isTerminal(change.task)).toBe(true);
      }
      task = change.task;
    }
    expect(() => assign(task, 'agent-a', T0 + 100)).toThrow(InvalidStateError);
  });

  it('with maxAttempts 1 a retryable failure dead-letters at once', () => {
    const change = fail(held('agent-a', false, { maxAttempts: 1 }), 'agent-a', { message: 'x' }, true, 100, T0);
    expect(change.task.status).toBe('dead_lettered');
  });

  it('a non-retryable failure is terminal: failed, one TaskFailed event', () => {
    const before = held('agent-a', true, { maxAttempts: 5 });
    const change = fail(before, 'agent-a', { message: 'bad input', code: 'E_INPUT', retryable: true }, false, 1000, T0 + 200);
    expectVersionChain(before, change, ['TaskFailed']);
    expect(change.task).toMatchObject({
      status: 'failed',
      finishedAt: T0 + 200,
      error: { message: 'bad input', code: 'E_INPUT', retryable: false },
    });
    expect(change.task.leaseExpiresAt).toBeUndefined();
    expect(change.events[0]!.data).toMatchObject({ agentId: 'agent-a', attempt: 1, retryable: false });
    // the same report again by the same agent is a no-op
    const again = fail(change.task, 'agent-a', { message: 'bad input', code: 'E_INPUT' }, false, 0, T0 + 300);
    expect(again.events).toEqual([]);
    expect(again.task).toBe(change.task);
    // any other report of the ended task finds no lease: another message or code, a retryable one
    expect(() => fail(change.task, 'agent-a', { message: 'bad input' }, false, 0, T0 + 300)).toThrow(LeaseNotHeldError);
    expect(() => fail(change.task, 'agent-a', { message: 'other', code: 'E_INPUT' }, false, 0, T0 + 300)).toThrow(LeaseNotHeldError);
    expect(() => fail(change.task, 'agent-a', { message: 'bad input', code: 'E_INPUT' }, true, 0, T0 + 300)).toThrow(LeaseNotHeldError);
  });

  it("an agent's failure of a task its deadline failed finds no lease (409), as its completion does", () => {
    const expired = expireDeadline(held('agent-a', true, { deadline: T0 + 100 }), T0 + 200).task;
    expect(expired).toMatchObject({ status: 'failed', agentId: 'agent-a', error: { code: 'deadline_exceeded' } });
    expect(() => fail(expired, 'agent-a', { message: 'gave up' }, false, 0, T0 + 300)).toThrow(LeaseNotHeldError);
    expect(() => complete(expired, 'agent-a', 'late', T0 + 300)).toThrow(LeaseNotHeldError);
  });

  it('a non-holder cannot fail the task', () => {
    expect(() => fail(held('agent-a'), 'agent-b', { message: 'x' }, true, 0, T0)).toThrow(LeaseNotHeldError);
    expect(() => fail(newTask(), 'agent-a', { message: 'x' }, false, 0, T0)).toThrow(LeaseNotHeldError);
  });
});

describe('releaseLease', () => {
  it.each(['lease_expired', 'agent_lost'] as const)('%s re-queues after the backoff and keeps the attempt', (reason) => {
    const before = held('agent-a', true, { maxAttempts: 3 });
    const change = releaseLease(before, reason, 700, T0 + 100);
    expectVersionChain(before, change, ['TaskRetried']);
    expect(change.task).toMatchObject({ status: 'queued', attempts: 1, availableAt: T0 + 800 });
    expect(change.task.agentId).toBeUndefined();
    expect(change.task.leaseExpiresAt).toBeUndefined();
    expect(change.task.error).toMatchObject({ code: reason, retryable: true });
    expect(change.task.error?.message).toContain('agent-a');
    expect(change.events[0]!.data).toEqual({ attempt: 1, reason, backoffMs: 700 });
  });

  it('lease_expired on the last attempt dead-letters', () => {
    const before = held('agent-a', true, { maxAttempts: 1 });
    const change = releaseLease(before, 'lease_expired', 700, T0 + 100);
    expectVersionChain(before, change, ['TaskDeadLettered']);
    expect(change.task.status).toBe('dead_lettered');
    expect(change.task.error?.code).toBe('lease_expired');
  });

  it("'agent_stopped' gives the attempt back and ignores the backoff", () => {
    const before = held('agent-a', true, { maxAttempts: 1 });
    const change = releaseLease(before, 'agent_stopped', 5000, T0 + 100);
    expectVersionChain(before, change, ['TaskRetried']);
    expect(change.task).toMatchObject({ status: 'queued', attempts: 0, availableAt: T0 + 100 });
    expect(change.task.error?.code).toBe('agent_stopped');
    expect(change.events[0]!.data).toMatchObject({ backoffMs: 0 });
  });

  it("repeated 'agent_stopped' hand-backs never dead-letter", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 20 }), (maxAttempts, handBacks) => {
        let task = newTask({ maxAttempts });
        for (let i = 0; i < handBacks; i++) {
          task = assign(task, `agent-${i % 3}`, T0 + i).task;
          expect(task.attempts).toBe(1);
          task = releaseLease(task, 'agent_stopped', 1000, T0 + i).task;
          expect(task.status).toBe('queued');
          expect(task.attempts).toBe(0);
        }
        expect(task.version).toBe(1 + 2 * handBacks);
      }),
      { numRuns: 50 },
    );
  });

  it.each(['queued', 'completed', 'failed', 'dead_lettered', 'canceled'] as const)('is a no-op on a %s task', (status) => {
    const task = { ...newTask(), status };
    const change = releaseLease(task, 'lease_expired', 100, T0);
    expect(change.events).toEqual([]);
    expect(change.task).toBe(task);
  });
});

describe('cancel', () => {
  it('cancels a queued task', () => {
    const before = newTask();
    const change = cancel(before, T0 + 5, 'no longer needed');
    expectVersionChain(before, change, ['TaskCanceled']);
    expect(change.task).toMatchObject({ status: 'canceled', finishedAt: T0 + 5, error: { message: 'no longer needed', code: 'canceled' } });
    expect(change.events[0]!.data).toEqual({ reason: 'no longer needed', agentId: undefined });
  });

  it('cancels a held task and names the holder', () => {
    const before = held('agent-a', true);
    const change = cancel(before, T0 + 5);
    expectVersionChain(before, change, ['TaskCanceled']);
    expect(change.task.status).toBe('canceled');
    expect(change.task.leaseExpiresAt).toBeUndefined();
    expect(change.events[0]!.data).toEqual({ reason: 'canceled by request', agentId: 'agent-a' });
  });

  it('is idempotent on a canceled task', () => {
    const canceled = cancel(newTask(), T0).task;
    const again = cancel(canceled, T0 + 1);
    expect(again.events).toEqual([]);
    expect(again.task).toBe(canceled);
  });

  it.each(['completed', 'failed', 'dead_lettered'] as const)('refuses a %s task with ConflictError', (status) => {
    expect(() => cancel({ ...newTask(), status }, T0)).toThrow(ConflictError);
  });
});

describe('expireDeadline', () => {
  it('fails a queued or held task whose deadline has passed', () => {
    for (const before of [newTask({ deadline: T0 + 100 }), held('agent-a', true, { deadline: T0 + 100 })]) {
      const change = expireDeadline(before, T0 + 100);
      expectVersionChain(before, change, ['TaskFailed']);
      expect(change.task).toMatchObject({
        status: 'failed',
        finishedAt: T0 + 100,
        error: { code: 'deadline_exceeded', retryable: false },
      });
      expect(change.task.leaseExpiresAt).toBeUndefined();
      expect(change.events[0]!.data).toMatchObject({ agentId: before.agentId });
    }
  });

  it('does nothing before the deadline, without a deadline, or on a terminal task', () => {
    const early = newTask({ deadline: T0 + 100 });
    expect(expireDeadline(early, T0 + 99).events).toEqual([]);
    expect(expireDeadline(newTask(), T0 + 10 ** 9).events).toEqual([]);
    const done = complete(held('agent-a', false, { deadline: T0 + 100 }), 'agent-a', 'x', T0 + 50).task;
    const change = expireDeadline(done, T0 + 1000);
    expect(change.events).toEqual([]);
    expect(change.task).toBe(done);
  });
});

describe('requeueDeadLetter', () => {
  it('puts a dead-lettered task back with fresh attempts', () => {
    const dead = fail(held('agent-a', true, { maxAttempts: 1 }), 'agent-a', { message: 'x' }, true, 100, T0 + 50).task;
    expect(dead.status).toBe('dead_lettered');
    const change = requeueDeadLetter(dead, T0 + 1000);
    expectVersionChain(dead, change, ['TaskRequeued']);
    expect(change.task).toMatchObject({ status: 'queued', attempts: 0, availableAt: T0 + 1000 });
    expect(change.task.agentId).toBeUndefined();
    expect(change.task.finishedAt).toBeUndefined();
    // and it can go round again
    expect(assign(change.task, 'agent-b', T0 + 1001).task.attempts).toBe(1);
  });

  it.each(['queued', 'assigned', 'running', 'completed', 'failed', 'canceled'] as const)('refuses a %s task', (status) => {
    expect(() => requeueDeadLetter({ ...newTask(), status }, T0)).toThrow(ConflictError);
  });

  it('refuses one whose deadline has passed, which would only be failed for it unseen; before it, puts it back', () => {
    const dead = fail(held('agent-a', true, { maxAttempts: 1, deadline: T0 + 5_000 }), 'agent-a', { message: 'x' }, true, 100, T0 + 50).task;
    expect(() => requeueDeadLetter(dead, T0 + 5_000)).toThrow(/past its deadline/);
    expect(requeueDeadLetter(dead, T0 + 4_999).task.status).toBe('queued');
  });
});

describe('broadcast', () => {
  const parentOf = () => newTask({ id: 'bc', routing: { strategy: 'broadcast' }, idempotencyKey: 'idem', priority: 7 });

  it('broadcastCopy pins a fresh queued copy to one agent', () => {
    const parent = parentOf();
    const { task, events } = broadcastCopy(parent, 'agent-x', 2, T0 + 10);
    expect(task).toMatchObject({
      id: 'bc~2',
      tenantId: parent.tenantId,
      capability: parent.capability,
      input: parent.input,
      priority: 7,
      routing: { strategy: 'broadcast' },
      status: 'queued',
      attempts: 0,
      availableAt: T0 + 10,
      parentId: 'bc',
      targetAgentId: 'agent-x',
      createdAt: T0 + 10,
      version: 1,
    });
    expect('idempotencyKey' in task).toBe(false);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'TaskSubmitted', aggregateId: 'bc~2', version: 1, data: { parentId: 'bc', targetAgentId: 'agent-x' } });
    // the parent is untouched
    expect(parent.idempotencyKey).toBe('idem');
  });

  it('fanOut marks the queued parent running with one TaskAssigned event', () => {
    const parent = parentOf();
    const change = fanOut(parent, ['bc~0', 'bc~1'], T0 + 10);
    expectVersionChain(parent, change, ['TaskAssigned']);
    expect(change.task).toMatchObject({ status: 'running', attempts: 1, assignedAt: T0 + 10, startedAt: T0 + 10 });
    expect(change.events[0]!.data).toEqual({ copies: ['bc~0', 'bc~1'] });
    expect(() => fanOut(change.task, [], T0)).toThrow(InvalidStateError);
  });

  it('completeBroadcast waits for every copy, then aggregates their results', () => {
    const parent = fanOut(parentOf(), ['bc~0', 'bc~1', 'bc~2'], T0 + 10).task;
    const copies = ['a', 'b', 'c'].map((agent, i) => assign(broadcastCopy(parent, `agent-${agent}`, i, T0 + 10).task, `agent-${agent}`, T0 + 11).task);
    const c0 = complete(copies[0]!, 'agent-a', { n: 0 }, T0 + 20).task;
    const c1 = fail(copies[1]!, 'agent-b', { message: 'nope', code: 'E' }, false, 0, T0 + 21).task;

    // one copy still running: nothing happens
    const pending = completeBroadcast(parent, [c0, c1, copies[2]!], T0 + 22);
    expect(pending.events).toEqual([]);
    expect(pending.task).toBe(parent);

    const c2 = cancel(copies[2]!, T0 + 23).task;
    const change = completeBroadcast(parent, [c0, c1, c2], T0 + 24);
    expectVersionChain(parent, change, ['TaskCompleted']);
    expect(change.task.status).toBe('completed');
    expect(change.task.finishedAt).toBe(T0 + 24);
    expect(change.task.output).toEqual({
      results: [
        { agentId: 'agent-a', taskId: 'bc~0', status: 'completed', output: { n: 0 } },
        { agentId: 'agent-b', taskId: 'bc~1', status: 'failed', error: { message: 'nope', code: 'E', retryable: false } },
        { agentId: 'agent-c', taskId: 'bc~2', status: 'canceled', error: { message: 'canceled by request', code: 'canceled' } },
      ],
    });
    expect(change.events[0]!.data).toEqual({ copies: 3, succeeded: 1 });

    // an already-terminal parent is left alone
    const again = completeBroadcast(change.task, [c0, c1, c2], T0 + 30);
    expect(again.events).toEqual([]);
  });
});

describe('retryBackoffMs', () => {
  it('is full-jitter exponential backoff, capped', () => {
    expect(retryBackoffMs(1, 100, 10_000, 0.5)).toBe(50);
    expect(retryBackoffMs(2, 100, 10_000, 0.5)).toBe(100);
    expect(retryBackoffMs(3, 100, 10_000, 0.5)).toBe(200);
    expect(retryBackoffMs(20, 100, 10_000, 0.5)).toBe(5000);
    expect(retryBackoffMs(3, 100, 10_000, 0)).toBe(0);
    expect(retryBackoffMs(0, 100, 10_000, 0.5)).toBe(50);
    expect(retryBackoffMs(2000, 100, 10_000, 0.999)).toBe(9990);
  });

  it('property: 0 <= backoff < min(cap, base * 2^(attempt-1)), an integer', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 3_600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseMs, capMs, random) => {
          const backoff = retryBackoffMs(attempt, baseMs, capMs, random);
          const ceiling = Math.min(capMs, baseMs * 2 ** (attempt - 1));
          expect(Number.isInteger(backoff)).toBe(true);
          expect(backoff).toBeGreaterThanOrEqual(0);
          expect(backoff).toBeLessThan(ceiling);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: non-decreasing in random and in attempt', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 3_600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseMs, capMs, r1, r2) => {
          const [lo, hi] = r1 <= r2 ? [r1, r2] : [r2, r1];
          expect(retryBackoffMs(attempt, baseMs, capMs, lo)).toBeLessThanOrEqual(retryBackoffMs(attempt, baseMs, capMs, hi));
          expect(retryBackoffMs(attempt, baseMs, capMs, lo)).toBeLessThanOrEqual(retryBackoffMs(attempt + 1, baseMs, capMs, lo));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('state machine (property)', () => {
  type Op =
    | { kind: 'assign'; agent: number }
    | { kind: 'start'; agent: number }
    | { kind: 'extend'; agent: number }
    | { kind: 'complete'; agent: number }
    | { kind: 'fail'; agent: number; retryable: boolean }
    | { kind: 'release'; reason: 'lease_expired' | 'agent_lost' | 'agent_stopped' }
    | { kind: 'cancel' }
    | { kind: 'expire' }
    | { kind: 'requeue' };

  const agent = fc.integer({ min: 0, max: 2 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('assign' as const), agent }),
    fc.record({ kind: fc.constant('start' as const), agent }),
    fc.record({ kind: fc.constant('extend' as const), agent }),
    fc.record({ kind: fc.constant('complete' as const), agent }),
    fc.record({ kind: fc.constant('fail' as const), agent, retryable: fc.boolean() }),
    fc.record({ kind: fc.constant('release' as const), reason: fc.constantFrom('lease_expired' as const, 'agent_lost' as const, 'agent_stopped' as const) }),
    fc.constant({ kind: 'cancel' as const }),
    fc.constant({ kind: 'expire' as const }),
    fc.constant({ kind: 'requeue' as const }),
  );

  function apply(task: Task, o: Op, now: number): { task: Task; events: DomainEvent[] } {
    const id = (n: number) => `agent-${n}`;
    switch (o.kind) {
      case 'assign':
        return assign(task, id(o.agent), now);
      case 'start':
        return start(task, id(o.agent), now);
      case 'extend':
        return extendLease(task, id(o.agent), 1000, now);
      case 'complete':
        return complete(task, id(o.agent), { by: o.agent }, now);
      case 'fail':
        return fail(task, id(o.agent), { message: 'x' }, o.retryable, 10, now);
      case 'release':
        return releaseLease(task, o.reason, 10, now);
      case 'cancel':
        return cancel(task, now);
      case 'expire':
        return expireDeadline(task, now);
      case 'requeue':
        return requeueDeadLetter(task, now);
    }
  }

  it('every event bumps the version by exactly one; attempts stay within [0, maxAttempts]; the lease is only held while assigned/running', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 40 }), (maxAttempts, ops) => {
        const submitted = submitTask(submitInput({ maxAttempts, deadline: T0 + 30 }), T0);
        let task = submitted.task;
        const all: DomainEvent[] = [...submitted.events];
        ops.forEach((o, i) => {
          const now = T0 + 1 + i;
          let change: { task: Task; events: DomainEvent[] };
          try {
            change = apply(task, o, now);
          } catch (error) {
            // Refusals are domain errors and leave the task as it was.
            expect(error).toBeInstanceOf(Error);
            expect((error as { code?: string }).code).toMatch(/^(invalid_state|lease_not_held|conflict)$/);
            return;
          }
          if (change.events.length === 0) {
            expect(change.task.version).toBe(task.version);
            expect(change.task.status).toBe(task.status);
          }
          task = change.task;
          all.push(...change.events);
          expect(task.attempts).toBeGreaterThanOrEqual(0);
          expect(task.attempts).toBeLessThanOrEqual(task.maxAttempts);
          const holding = task.status === 'assigned' || task.status === 'running';
          expect(task.leaseExpiresAt !== undefined).toBe(holding);
          if (holding) expect(task.agentId).toBeDefined();
          if (task.status === 'queued') expect(task.agentId).toBeUndefined();
        });
        expect(all.map((e) => e.version)).toEqual(all.map((_, i) => i + 1));
        expect(task.version).toBe(all.length);
        for (const e of all) expect(e.aggregateId).toBe('task-1');
      }),
      { numRuns: 300 },
    );
  });
});

describe('a task that opts in to the skill result cache', () => {
  const input = (cache: unknown, strategy = 'round_robin'): SubmitTaskInput =>
    ({ id: 't1', tenantId: 'acme', capability: 'square', input: { n: 3 }, routing: { strategy }, cache }) as SubmitTaskInput;

  it('keeps its policy, and refuses a bad one naming the field', () => {
    expect(submitTask(input({ ttlSeconds: 60 }), 1).task.cache).toEqual({ ttlSeconds: 60 });
    expect(submitTask(input({ ttlSeconds: 60, key: 'k' }), 1).task.cache).toEqual({ ttlSeconds: 60, key: 'k' });
    expect(submitTask(input(undefined), 1).task).not.toHaveProperty('cache');
    for (const [bad, field] of [[{ ttlSeconds: 0 }, 'cache.ttlSeconds'], [{ ttlSeconds: 86_401 }, 'cache.ttlSeconds'], [{ ttlSeconds: 1.5 }, 'cache.ttlSeconds'], [{ ttlSeconds: 5, key: '' }, 'cache.key']] as const) {
      expect(() => submitTask(input(bad), 1)).toThrow(ValidationError);
      try {
        submitTask(input(bad), 1);
      } catch (error) {
        expect((error as ValidationError).field).toBe(field);
      }
    }
    expect(() => submitTask(input({ ttlSeconds: 5 }, 'broadcast'), 1)).toThrow(/broadcast/);
  });

  it('completes at submit from a kept result: completed, cached, no agent, its two events in order', () => {
    const submitted = submitTask(input({ ttlSeconds: 60 }), 1);
    const { task, events } = completeFromCache(submitted, { square: 9 }, 2);
    expect(task).toMatchObject({ status: 'completed', output: { square: 9 }, cached: true, finishedAt: 2, attempts: 0, version: 2 });
    expect(task).not.toHaveProperty('agentId');
    expect(events.map((e) => [e.type, e.version])).toEqual([
      ['TaskSubmitted', 1],
      ['TaskCompleted', 2],
    ]);
    expect(events[1]!.data).toEqual({ cached: true });
  });
});
