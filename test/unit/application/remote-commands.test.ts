import { describe, expect, it } from 'vitest';
import type { Caller } from '../../../src/application/caller.js';
import type { MeshCommands } from '../../../src/application/mesh-commands.js';
import { COMMAND_SUBJECT, remoteCommands, serveCommands } from '../../../src/application/remote-commands.js';
import { LeaseNotHeldError, NotFoundError, QuotaExceededError, UnavailableError, ValidationError } from '../../../src/domain/index.js';
import { InMemoryBroker } from '../../../src/infrastructure/messaging/in-memory-broker.js';

const caller: Caller = { keyId: 'k1', tenantId: 'acme', role: 'admin', platform: false };
const silentLogger = { info() {}, warn() {}, error() {}, debug() {}, fatal() {}, child() { return silentLogger; } } as never;

/** A leader whose commands record what they were asked and answer from `behave`. */
function fakeLeader(behave: Partial<MeshCommands>): { commands: MeshCommands; calls: string[] } {
  const calls: string[] = [];
  const commands = new Proxy({} as MeshCommands, {
    get: (_, op: string) => async (...args: unknown[]) => {
      calls.push(`${op}:${JSON.stringify(args.slice(1))}`);
      const impl = (behave as Record<string, (...a: unknown[]) => unknown>)[op];
      if (!impl) throw new Error(`no ${op}`);
      return impl(...args);
    },
  });
  return { commands, calls };
}

describe('commands sent to the leader', () => {
  it('answers 503 at once, not at the timeout, when the leader is replaced while a command is on its way to it', async () => {
    const broker = new InMemoryBroker();
    // A leader that took the command and died: no answer will come.
    const { commands } = fakeLeader({ cancelTask: () => new Promise(() => {}), resumeAgent: async (c, id) => ({ id, tenantId: c.tenantId }) as never });
    serveCommands(broker, commands, silentLogger);
    let change = new AbortController();
    const remote = remoteCommands(broker, { timeoutMs: 60_000, leaderWaitMs: 500, leaderChange: () => change.signal });
    const started = Date.now();
    const pending = remote.cancelTask(caller, 't1').catch((e: unknown) => e);
    setTimeout(() => {
      change.abort();
      change = new AbortController();
    }, 50);
    const error = await pending;
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).retryAfterSeconds).toBe(1);
    expect((error as Error).message).toMatch(/^the mesh leader changed while this change was on its way to it/u);
    expect(Date.now() - started).toBeLessThan(5_000);
    // Commands after the change go through.
    expect(await remote.resumeAgent(caller, 'a1')).toMatchObject({ id: 'a1' });
  });

  it('returns what the leader answered, and its domain errors as the same class, code and details', async () => {
    const broker = new InMemoryBroker();
    const { commands } = fakeLeader({
      cancelTask: async (_c, id) => {
        throw new NotFoundError('task', id);
      },
      extendTaskLease: async (_c, id, agentId) => {
        throw new LeaseNotHeldError(id, agentId);
      },
      registerAgent: async () => {
        throw new ValidationError('name must be 1-128 characters', 'name');
      },
      requeueDeadLetter: async () => {
        throw new QuotaExceededError('too many', { quota: 'maxQueuedPerTenant', retryAfterSeconds: 1 });
      },
      pauseAgent: async () => {
        throw new UnavailableError('store is down', 2);
      },
      resumeAgent: async (c, id) => ({ id, tenantId: c.tenantId, status: 'available' }) as never,
    });
    serveCommands(broker, commands, silentLogger);
    const remote = remoteCommands(broker, { timeoutMs: 1000, leaderWaitMs: 500 });

    expect(await remote.resumeAgent(caller, 'a1')).toEqual({ id: 'a1', tenantId: 'acme', status: 'available' });
    const notFound = await remote.cancelTask(caller, 't1').catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(NotFoundError);
    expect(notFound).toMatchObject({ code: 'not_found', message: "task 't1' was not found", details: { kind: 'task', id: 't1' } });
    expect(await remote.extendTaskLease(caller, 't1', 'a1', 1000).catch((e: unknown) => e)).toBeInstanceOf(LeaseNotHeldError);
    expect(await remote.registerAgent(caller, { name: '', capabilities: [] }).catch((e: unknown) => e)).toMatchObject({ name: 'ValidationError', field: 'name' });
    expect(await remote.requeueDeadLetter(caller, 't1').catch((e: unknown) => e)).toMatchObject({ code: 'quota_exceeded', details: { retryAfterSeconds: 1 } });
    const unavailable = await remote.pauseAgent(caller, 'a1').catch((e: unknown) => e);
    expect(unavailable).toBeInstanceOf(UnavailableError);
    expect((unavailable as UnavailableError).retryAfterSeconds).toBe(2);
  });

  it('sends the submits and settlements of one tick in one message, each with its own answer', async () => {
    const broker = new InMemoryBroker();
    let messages = 0;
    const { commands } = fakeLeader({
      submitTask: async (_c, request) => {
        if (request.priority === 99) throw new ValidationError('priority must be 0-9', 'priority');
        return { id: `t-${request.priority}`, status: 'queued', created: true };
      },
    });
    serveCommands(broker, commands, silentLogger);
    // Count the messages that travel to the leader.
    const request = broker.request.bind(broker);
    broker.request = (...args) => {
      messages++;
      return request(...args);
    };
    const remote = remoteCommands(broker, { timeoutMs: 1000, leaderWaitMs: 500 });
    const results = await Promise.allSettled([0, 1, 99, 3].map((priority) => remote.submitTask(caller, { capability: 'c', input: {}, priority })));
    expect(messages).toBe(1);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.id : (r.reason as Error).name))).toEqual(['t-0', 't-1', 'ValidationError', 't-3']);
  });

  it('waits for a leader to appear, and gives up with 503 when none does', async () => {
    const broker = new InMemoryBroker();
    const remote = remoteCommands(broker, { timeoutMs: 1000, leaderWaitMs: 300, retryEveryMs: 20 });
    const started = Date.now();
    await expect(remote.heartbeatAgent(caller, 'a1')).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/no mesh leader/) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);

    const later = remoteCommands(broker, { timeoutMs: 1000, leaderWaitMs: 2000, retryEveryMs: 20 });
    const pending = later.heartbeatAgent(caller, 'a1');
    setTimeout(() => serveCommands(broker, fakeLeader({ heartbeatAgent: async (_c, id) => ({ id }) as never }).commands, silentLogger), 100);
    expect(await pending).toEqual({ id: 'a1' });
  });

  it('does not send again a command whose answer timed out: it may have run', async () => {
    const broker = new InMemoryBroker();
    let runs = 0;
    broker.serve(COMMAND_SUBJECT, () => {
      runs++;
      return new Promise<Uint8Array>(() => {});
    });
    const remote = remoteCommands(broker, { timeoutMs: 100, leaderWaitMs: 2000 });
    await expect(remote.cancelTask(caller, 't1')).rejects.toBeInstanceOf(UnavailableError);
    expect(runs).toBe(1);
  });
});
