import { describe, expect, it, vi } from 'vitest';
import { newKey } from '../../../src/infrastructure/security/secrets/aes-gcm.js';
import { EnvelopeVault } from '../../../src/infrastructure/security/secrets/envelope-vault.js';
import { LocalKeyring } from '../../../src/infrastructure/security/secrets/local-kms.js';
import { keysInMemory } from '../../support/keys-in-memory.js';

const value = Buffer.from('a value', 'utf8');

/** A vault that remembers an owner's current key for `ttlMs`. */
function vaultOf(ttlMs = 60_000) {
  const keys = keysInMemory();
  const vault = new EnvelopeVault(new LocalKeyring([newKey()]), keys, { now: () => Date.now() }, { currentKeyTtlMs: ttlMs });
  return { vault, keys };
}

const forgotten = () => new Promise((r) => setTimeout(r, 40));

describe('envelope vault: the current key', () => {
  it('is looked up once for seals that find it forgotten together, and each of them opens', async () => {
    const { vault, keys } = vaultOf(20);
    await vault.seal('acme', 'aad', value);
    await forgotten();
    const lookups = vi.spyOn(keys, 'current');
    const sealed = await Promise.all(Array.from({ length: 32 }, () => vault.seal('acme', 'aad', value)));
    expect(lookups).toHaveBeenCalledTimes(1);
    for (const s of sealed) expect((await vault.open('acme', 'aad', s)).toString()).toBe('a value');
  });

  it('is looked up apart for each owner', async () => {
    const { vault, keys } = vaultOf();
    const lookups = vi.spyOn(keys, 'current');
    await Promise.all(['acme', 'globex', 'acme', 'globex'].map((owner) => vault.seal(owner, 'aad', value)));
    expect(lookups.mock.calls.map(([owner]) => owner).sort()).toEqual(['acme', 'globex']);
  });

  it('is looked up again by a seal that starts after a destruction, not taken from a lookup begun before it', async () => {
    const { vault, keys } = vaultOf(20);
    const first = await vault.seal('acme', 'aad', value);
    await forgotten();
    // The lookup under way when the destruction comes is held until the destruction is over.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const current = keys.current.bind(keys);
    const lookups = vi.spyOn(keys, 'current').mockImplementationOnce(async (owner) => {
      const found = await current(owner);
      await held;
      return found;
    });
    const before = vault.seal('acme', 'aad', value);
    await vault.destroyTenantKeys('acme');
    const pending = vault.seal('acme', 'aad', value);
    release();
    const after = await pending;
    await before.catch(() => undefined);
    expect(lookups).toHaveBeenCalledTimes(2);
    expect(after.tenantKeyVersion).toBe(first.tenantKeyVersion + 1);
    expect((await vault.open('acme', 'aad', after)).toString()).toBe('a value');
  });

  it('lets the next seal look again when a lookup fails', async () => {
    const { vault, keys } = vaultOf();
    const lookups = vi.spyOn(keys, 'current').mockRejectedValueOnce(new Error('database away'));
    const failed = await Promise.allSettled([vault.seal('acme', 'aad', value), vault.seal('acme', 'aad', value)]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    const sealed = await vault.seal('acme', 'aad', value);
    expect(lookups).toHaveBeenCalledTimes(2);
    expect((await vault.open('acme', 'aad', sealed)).toString()).toBe('a value');
  });
  it('is made afresh by a seal that starts after a destruction, not taken from a making begun before it', async () => {
    const { vault, keys } = vaultOf();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const create = keys.create.bind(keys);
    vi.spyOn(keys, 'create').mockImplementationOnce(async (record) => {
      await held;
      return create(record);
    });
    const makings = vi.spyOn(keys, 'latestVersion');
    const before = vault.seal('acme', 'aad', value);
    await vi.waitFor(() => expect(makings).toHaveBeenCalledTimes(1));
    await vault.destroyTenantKeys('acme');
    const pending = vault.seal('acme', 'aad', value);
    await vi.waitFor(() => expect(makings.mock.calls.length).toBeGreaterThan(1), { timeout: 500 }).catch(() => undefined);
    release();
    const after = await pending;
    await before.catch(() => undefined);
    expect(makings).toHaveBeenCalledTimes(2);
    expect((await vault.open('acme', 'aad', after)).toString()).toBe('a value');
  });
});
