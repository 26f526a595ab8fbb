import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { Mesh } from '../../../src/application/mesh.js';
import { UnavailableError } from '../../../src/domain/index.js';
import { COMMAND_SUBJECT } from '../../../src/application/remote-commands.js';
import { InMemoryBroker } from '../../../src/infrastructure/messaging/in-memory-broker.js';
import type { PostgresStore } from '../../../src/infrastructure/persistence/postgres-store.js';
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
const storeLeading = (leading: boolean, answers: () => boolean = () => true) =>
  ({
    campaign: vi.fn(async () => leading),
    db: { query: vi.fn(async () => (answers() ? { rows: [] } : Promise.reject(new UnavailableError('the database is unreachable')))) },
  }) as unknown as PostgresStore;
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
});
