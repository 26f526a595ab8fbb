import type { KeyEncryptionKeyRecord, KeyEncryptionKeyRepository } from '../../src/application/ports.js';

/** Keys in a map: the SQL repository has its own contract tests. */
export function keysInMemory(): KeyEncryptionKeyRepository {
  const rows: KeyEncryptionKeyRecord[] = [];
  const of = (owner: string) => rows.filter((r) => r.owner === owner).sort((a, b) => b.version - a.version);
  return {
    current: async (owner) => (of(owner)[0]?.wrappedKey !== undefined ? of(owner)[0] : undefined),
    currentWrappedBy: async (owner, ids) => of(owner).find((r) => r.wrappedKey !== undefined && ids.includes(r.masterKeyId)),
    get: async (owner, version) => of(owner).find((r) => r.version === version),
    latestVersion: async (owner) => of(owner)[0]?.version ?? 0,
    create: async (record) => (of(record.owner).some((r) => r.version === record.version) ? false : (rows.push({ ...record }), true)),
    destroyAll: async (owner, now) => {
      const live = of(owner).filter((r) => r.wrappedKey !== undefined);
      for (const r of live) Object.assign(r, { wrappedKey: undefined, destroyedAt: now });
      return live.length;
    },
    wrappedByOtherThan: async () => [],
    rewrap: async () => false,
    // A map keeps no old versions.
    purgeReplaced: async () => {},
  };
}
