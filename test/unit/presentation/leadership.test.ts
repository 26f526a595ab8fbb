import pino from 'pino';
import { describe, expect, it, onTestFinished, vi, type Mock } from 'vitest';
import type { Mesh } from '../../../src/application/mesh.js';
import { UnavailableError } from '../../../src/domain/index.js';
import { COMMAND_SUBJECT } from '../../../src/application/remote-commands.js';
import { InMemoryBroker } from '../../../src/infrastructure/messaging/in-memory-broker.js';
import type { MeshLeaderRecord, PostgresStore } from '../../../src/infrastructure/persistence/postgres-store.js';
import { Leadership } from '../../../src/presentation/leadership.js';

const logger = pino({ level: 'silent' });

/** A mesh whose start the test controls. */
function fakeMesh(start: () => Promise<{ createdAdminKey?: string }>) {
  return {
    follow: vi.fn(),
    start: vi.fn(start),
    abdicate: vi.fn(async () => {}),
    local: {},
  };
}
/** A store whose database answers `SELECT 1` once `answers` says so. */
const storeLeading = (leading: boolean, answers: () => boolean = () => true, leader: () => MeshLeaderRecord | undefined = () => undefined) =>
  ({
    campaign: vi.fn(async () => leading),
    recordLeader: vi.fn(async () => {}),
    liveLeader: vi.fn(async () => leader()),
    db: { query: vi.fn(async () => (answers() ? { rows: [] } : Promise.reject(new UnavailableError('the database is unreachable')))) },
  }) as unknown as PostgresStore & { recordLeader: Mock; liveLeader: Mock };
/** A logger that keeps each line's message. */
function recordingLogger(): { lines: string[]; recording: pino.Logger } {
  const lines: string[] = [];
  return { lines, recording: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line).msg) }) };
}
/** A follower looks at the leader on an interval: the test moves it on, and real timers come back after. */
function followerTimers(): void {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  onTestFinished(() => void vi.useRealTimers());
}
const serving = (broker: InMemoryBroker) => broker.request(COMMAND_SUBJECT, Buffer.from('{}'), 200).then(() => true, (e: Error) => e.name !== 'NoResponderError');

describe('Leadership', () => {
  it('leads at once when elected at start, and serves commands', async () => {
    const broker = new InMemoryBroker();
    const mesh = fakeMesh(async () => ({ createdAdminKey: 'am_key' }));
    const leadership = new Leadership(mesh as unknown as Mesh, broker, logger, {}, vi.fn());
    await leadership.begin(storeLeading(true));
    expect(mesh.follow).toHaveBeenCalledOnce();
    expect(leadership.createdAdminKey).toBe('am_key');
    expect(await serving(broker)).toBe(true);
    await leadership.close();
    expect(await serving(broker)).toBe(false);
  });

  it('fails the start when elected but the mesh cannot start, rather than hold the lock without leading', async () => {
    const broker = new InMemoryBroker();
    const mesh = fakeMesh(async () => {
      throw new Error('database went away');
    });
    const leadership = new Leadership(mesh as unknown as Mesh, broker, logger, {}, vi.fn());
    await expect(leadership.begin(storeLeading(true))).rejects.toThrow('database went away');
    expect(await serving(broker)).toBe(false);
  });

  it('elected while the database does not answer yet (its breaker still open), waits for it and then leads', async () => {
    const broker = new InMemoryBroker();
    const mesh = fakeMesh(async () => ({}));
    let up = false;
    setTimeout(() => (up = true), 600);
    const leadership = new Leadership(mesh as unknown as Mesh, broker, logger, {}, vi.fn());
    await leadership.begin(storeLeading(true, () => up));
    expect(up).toBe(true);
    expect(mesh.start).toHaveBeenCalledOnce();
    expect(await serving(broker)).toBe(true);
    await leadership.close();
  });

  it('on losing the lock, stops serving and routing before it asks the host to stop', async () => {
    const broker = new InMemoryBroker();
    const mesh = fakeMesh(async () => ({}));
    const onFatal = vi.fn();
    const leadership = new Leadership(mesh as unknown as Mesh, broker, logger, {}, onFatal);
    await leadership.begin(storeLeading(true));
    leadership.onLockEvent({ kind: 'lost', error: new Error('connection reset') });
    await vi.waitFor(() => expect(onFatal).toHaveBeenCalledOnce());
    expect(mesh.abdicate).toHaveBeenCalledOnce();
    expect(await serving(broker)).toBe(false);
  });

  it('serves nothing when closed while its lead was still starting', async () => {
    const broker = new InMemoryBroker();
    let finishStart!: () => void;
    const mesh = fakeMesh(() => new Promise((resolve) => (finishStart = () => resolve({}))));
    const leadership = new Leadership(mesh as unknown as Mesh, broker, logger, {}, vi.fn());
    await leadership.begin(storeLeading(false));
    leadership.onLockEvent({ kind: 'elected' });
    await vi.waitFor(() => expect(mesh.start).toHaveBeenCalledOnce());
    const closed = leadership.close();
    finishStart();
    await closed;
    expect(await serving(broker)).toBe(false);
  });

  it('records its NATS namespace and Redis prefix once elected, and leads even when the record cannot be written', async () => {
    const broker = new InMemoryBroker();
    const mesh = fakeMesh(async () => ({}));
    const leadership = new Leadership(mesh as unknown as Mesh, broker, logger, {}, vi.fn(), 'prod', 'mesh-a');
    const store = storeLeading(true);
    store.recordLeader.mockRejectedValueOnce(new Error('permission denied for table mesh_leader'));
    await leadership.begin(store);
    expect(store.recordLeader).toHaveBeenCalledWith({ natsNamespace: 'prod', redisPrefix: 'mesh-a', instance: expect.stringMatching(/ pid \d+$/) });
    expect(await serving(broker)).toBe(true);
    expect(leadership.problem).toBeUndefined();
    await leadership.close();
  });

  it('as a follower, answers a command on its way to a leader that is gone at the next look (503), not at the end of its timeout', async () => {
    followerTimers();
    const broker = new InMemoryBroker();
    // The leader took the command and then died: no answer comes.
    broker.serve(COMMAND_SUBJECT, () => new Promise(() => {}));
    const mesh = fakeMesh(async () => ({}));
    const leadership = new Leadership(mesh as unknown as Mesh, broker, logger, {}, vi.fn(), '');
    let leader: MeshLeaderRecord | undefined = { natsNamespace: '', instance: 'mesh-1 pid 7' };
    await leadership.begin(storeLeading(false, () => true, () => leader));
    const follow = mesh.follow.mock.calls[0]![0] as { cancelTask(...args: unknown[]): Promise<unknown> };
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    onTestFinished(() => void process.off('warning', onWarning));
    let settled = false;
    const pending = follow.cancelTask({ tenantId: 't', role: 'admin' }, 't1').catch((e: unknown) => e).finally(() => (settled = true));
    // Many at once listen for the change: no warning of a leak for what is only many commands in flight.
    const others = Array.from({ length: 20 }, (_, i) => follow.cancelTask({ tenantId: 't', role: 'admin' }, `t${i + 2}`).catch((e: unknown) => e));
    // The same leader at the next look: the command still waits for its answer.
    await vi.advanceTimersByTimeAsync(2_000);
    expect(settled).toBe(false);
    leader = undefined;
    const gone = Date.now();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await pending).toMatchObject({ name: 'UnavailableError', retryAfterSeconds: 1, message: expect.stringMatching(/^the mesh leader changed/u) });
    expect(Date.now() - gone).toBeLessThan(5_000);
    expect((await Promise.all(others)).every((e) => (e as Error).name === 'UnavailableError')).toBe(true);
    expect(warnings).toEqual([]);
    await leadership.close();
  });

  it("as a follower on another Redis than the leader's (another prefix, or none), says so at once; not to a leader that does not say", async () => {
    followerTimers();
    const broker = new InMemoryBroker();
    const { lines, recording } = recordingLogger();
    const leadership = new Leadership(fakeMesh(async () => ({})) as unknown as Mesh, broker, recording, {}, vi.fn(), 'prod', 'mesh-b');
    let leader: MeshLeaderRecord | undefined = { natsNamespace: 'prod', redisPrefix: 'mesh-a', instance: 'mesh-1 pid 7' };
    await leadership.begin(storeLeading(false, () => true, () => leader));
    expect(leadership.problem).toMatch(/^this instance's Redis \(AGENTMESH_REDIS_URL, AGENTMESH_REDIS_PREFIX\) is not the mesh leader's/u);
    expect(leadership.problem).not.toMatch(/mesh-a|mesh-b|mesh-1/u);
    expect(lines).toContain(
      "this instance uses Redis with AGENTMESH_REDIS_PREFIX 'mesh-b' but the mesh's leader (mesh-1 pid 7) uses Redis with AGENTMESH_REDIS_PREFIX 'mesh-a': its caches, key revocations and rate limits would be apart from the mesh's; give every instance the same AGENTMESH_REDIS_URL and AGENTMESH_REDIS_PREFIX",
    );
    leader = { natsNamespace: 'prod', redisPrefix: '', instance: 'mesh-1 pid 7' };
    await vi.advanceTimersByTimeAsync(2_000);
    expect(lines.at(-1)).toMatch(/but the mesh's leader \(mesh-1 pid 7\) uses no Redis:/u);
    // A leader of an earlier build says nothing of its Redis: nothing to compare.
    leader = { natsNamespace: 'prod', instance: 'mesh-1 pid 7' };
    await vi.advanceTimersByTimeAsync(2_000);
    expect(leadership.problem).toBeUndefined();
    leader = { natsNamespace: 'prod', redisPrefix: 'mesh-b', instance: 'mesh-1 pid 7' };
    await vi.advanceTimersByTimeAsync(2_000);
    expect(leadership.problem).toBeUndefined();
    await leadership.close();
  });

  it("as a follower on another NATS namespace than the leader's, says so at once, and not once the leader's is its own", async () => {
    followerTimers();
    const broker = new InMemoryBroker();
    const mesh = fakeMesh(async () => ({}));
    const { lines, recording } = recordingLogger();
    const leadership = new Leadership(mesh as unknown as Mesh, broker, recording, {}, vi.fn(), 'prdo');
    let leader: MeshLeaderRecord | undefined = { natsNamespace: 'prod', instance: 'mesh-1 pid 7' };
    await leadership.begin(storeLeading(false, () => true, () => leader));
    expect(leadership.problem).toMatch(/AGENTMESH_NATS_NAMESPACE is not the mesh leader's/);
    // The words any caller may see name neither namespace nor host; the log names all.
    expect(leadership.problem).not.toMatch(/prod|prdo|mesh-1/);
    expect(lines).toContain(
      "AGENTMESH_NATS_NAMESPACE is 'prdo' here but 'prod' on the mesh's leader (mesh-1 pid 7): this instance cannot reach it; give every instance of the mesh the same namespace",
    );

    // A change sent meanwhile fails at once, not after the 10 s of waiting for an election.
    const follow = mesh.follow.mock.calls[0]![0] as { submitTask(...args: unknown[]): Promise<unknown> };
    const started = Date.now();
    await expect(follow.submitTask({ tenantId: 't', role: 'admin' }, { capability: 'x', input: {} })).rejects.toMatchObject({ name: 'UnavailableError', message: leadership.problem });
    expect(Date.now() - started).toBeLessThan(2_000);

    // The leader went and another, on this namespace, leads: the next check clears it.
    leader = { natsNamespace: 'prdo', instance: 'mesh-2 pid 9' };
    await vi.advanceTimersByTimeAsync(2_000);
    expect(leadership.problem).toBeUndefined();
    // No leader recorded (one of an older build, or none yet): nothing to say.
    leader = undefined;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(leadership.problem).toBeUndefined();
    await leadership.close();
  });
});
