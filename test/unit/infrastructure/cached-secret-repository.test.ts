import { describe, expect, it } from 'vitest';
import type { CurrentSecret, SecretRepository, SecretVersionWrite } from '../../../src/application/ports.js';
import { CachedSecretRepository } from '../../../src/infrastructure/persistence/cached-secret-repository.js';

const current = (version: number, size = 10): CurrentSecret => ({
  policy: { capabilities: ['*'] },
  version,
  versionId: `v${version}`,
  sealed: { tenantKeyVersion: 1, wrappedDataKey: 'k', ciphertext: 'x'.repeat(size) },
  tenantKey: { owner: 't', version: 1, masterKeyId: 'm', wrappedKey: 'w', createdAt: 0 },
});

/** A store whose reads can be held back, to interleave them with changes. */
class SlowStore {
  versions = new Map<string, number>();
  reads = 0;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  hold() {
    this.gate = new Promise((r) => (this.open = r));
  }
  release() {
    this.open?.();
    this.gate = undefined;
  }
  repo(): SecretRepository {
    const write = async (w: SecretVersionWrite) => {
      const version = (this.versions.get(w.name) ?? 0) + 1;
      this.versions.set(w.name, version);
      return version;
    };
    return {
      current: async (_t, name) => {
        this.reads++;
        const version = this.versions.get(name);
        await this.gate;
        return version === undefined ? undefined : current(version);
      },
      upsert: async (w) => ({ version: await write(w), created: false }),
      addVersion: async (w) => ({ version: await write(w) }),
      delete: async (_t, name) => this.versions.delete(name),
      get: async () => undefined,
      list: async () => ({ items: [] }),
      destroyingTenantKeys: (_t, destroy) => destroy(),
    };
  }
}

const writeOf = (name: string): SecretVersionWrite => ({ tenantId: 't', name, versionId: 'id', sealed: { tenantKeyVersion: 1, wrappedDataKey: '', ciphertext: '' }, at: 0 });

describe('CachedSecretRepository', () => {
  it('serves a read from memory until a change, then the new version', async () => {
    const store = new SlowStore();
    const repo = new CachedSecretRepository(store.repo());
    await repo.upsert(writeOf('a'), { capabilities: ['*'] }, undefined);
    expect((await repo.current('t', 'a'))!.version).toBe(1);
    expect((await repo.current('t', 'a'))!.version).toBe(1);
    expect(store.reads).toBe(1);
    await repo.addVersion(writeOf('a'));
    expect((await repo.current('t', 'a'))!.version).toBe(2);
    await repo.delete('t', 'a');
    expect(await repo.current('t', 'a')).toBeUndefined();
  });

  it('does not keep a read that raced a change (it may hold the old version)', async () => {
    const store = new SlowStore();
    const repo = new CachedSecretRepository(store.repo());
    await repo.upsert(writeOf('a'), { capabilities: ['*'] }, undefined);
    store.hold();
    const racing = repo.current('t', 'a');
    await repo.addVersion(writeOf('a'));
    store.release();
    expect((await racing)!.version).toBe(1);
    expect((await repo.current('t', 'a'))!.version).toBe(2);
  });

  it("drops every entry of a tenant whose keys are destroyed, and keeps no read that spanned it", async () => {
    const store = new SlowStore();
    const repo = new CachedSecretRepository(store.repo());
    await repo.upsert(writeOf('a'), { capabilities: ['*'] }, undefined);
    await repo.upsert(writeOf('b'), { capabilities: ['*'] }, undefined);
    await repo.current('t', 'a');
    await repo.current('t', 'b');
    expect(repo.cachedEntries).toBe(2);
    store.hold();
    const racing = repo.current('t', 'c');
    await repo.destroyingTenantKeys('t', async () => 1);
    store.release();
    await racing;
    expect(repo.cachedEntries).toBe(0);
  });

  it('stays within its byte bound', async () => {
    const store = new SlowStore();
    const repo = new CachedSecretRepository(
      { ...store.repo(), current: async (_t, name) => current(Number(name), 10_000) },
      { maxBytes: 50_000 },
    );
    for (let i = 1; i <= 100; i++) await repo.current('t', String(i));
    expect(repo.cachedBytes).toBeLessThanOrEqual(50_000);
    expect(repo.cachedEntries).toBeLessThanOrEqual(5);
  });
});
