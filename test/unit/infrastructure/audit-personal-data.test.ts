import { describe, expect, it, vi } from 'vitest';
import { EnvelopePersonalDataVault } from '../../../src/infrastructure/security/audit-personal-data.js';
import { newKey } from '../../../src/infrastructure/security/secrets/aes-gcm.js';
import { EnvelopeVault } from '../../../src/infrastructure/security/secrets/envelope-vault.js';
import { LocalKeyring } from '../../../src/infrastructure/security/secrets/local-kms.js';
import { keysInMemory } from '../../support/keys-in-memory.js';

function vaults(ttlMs = 60_000) {
  const envelope = new EnvelopeVault(new LocalKeyring([newKey()]), keysInMemory(), { now: () => 0 }, { purpose: 'audit-subject-key', currentKeyTtlMs: ttlMs, ownKeysOnly: true });
  const sealed = vi.spyOn(envelope, 'seal');
  return { personal: new EnvelopePersonalDataVault(envelope, { maxSeals: 100, ttlMs }), sealed };
}

const data = (text: string) => Buffer.from(text, 'utf8');

describe('audit personal data: seals reused for the same subject and data', () => {
  it('seals the same data of the same subject once, and it opens to that data', async () => {
    const { personal, sealed } = vaults();
    const first = await personal.seal('acme', 'key-1', data('{"sourceIp":"10.0.0.7"}'));
    const again = await personal.seal('acme', 'key-1', data('{"sourceIp":"10.0.0.7"}'));
    expect(again).toBe(first);
    expect(sealed).toHaveBeenCalledTimes(1);
    expect(personal.reusableSeals).toBe(1);
    expect((await personal.open('acme', 'key-1', again))!.toString()).toBe('{"sourceIp":"10.0.0.7"}');
  });

  it('never reuses a seal for other data, another subject, or the same subject of another tenant', async () => {
    const { personal, sealed } = vaults();
    const seals = [
      await personal.seal('acme', 'key-1', data('a')),
      await personal.seal('acme', 'key-1', data('b')),
      await personal.seal('acme', 'key-2', data('a')),
      await personal.seal('other', 'key-1', data('a')),
    ];
    expect(new Set(seals).size).toBe(4);
    expect(sealed).toHaveBeenCalledTimes(4);
    // Each opens only as its own subject: the subject is bound into the encryption.
    expect((await personal.open('acme', 'key-2', seals[2]!))!.toString()).toBe('a');
    await expect(personal.open('acme', 'key-1', seals[2]!)).rejects.toThrow();
  });

  it('seals anew once the reuse period is over', async () => {
    const { personal, sealed } = vaults(20);
    const first = await personal.seal('acme', 'key-1', data('a'));
    await new Promise((r) => setTimeout(r, 40));
    const later = await personal.seal('acme', 'key-1', data('a'));
    expect(later).not.toBe(first);
    expect(sealed).toHaveBeenCalledTimes(2);
  });

  it('forgets the seals of a shredded subject, and a seal made across the shredding is not remembered', async () => {
    const { personal, sealed } = vaults();
    const before = await personal.seal('acme', 'key-1', data('a'));
    await personal.seal('acme', 'key-2', data('a'));
    const inFlight = personal.seal('acme', 'key-1', data('b'));
    expect(await personal.shred('acme', 'key-1')).toBe(1);
    await inFlight;
    expect(personal.reusableSeals).toBe(1);
    expect(await personal.open('acme', 'key-1', before)).toBeUndefined();
    const after = await personal.seal('acme', 'key-1', data('a'));
    expect(after).not.toBe(before);
    expect((await personal.open('acme', 'key-1', after))!.toString()).toBe('a');
    expect(sealed).toHaveBeenCalledTimes(4);
  });

  it('seals large data afresh each time, so that the seals held stay small', async () => {
    const { personal, sealed } = vaults();
    const large = data(JSON.stringify({ personalDetails: 'x'.repeat(2000) }));
    expect(await personal.seal('acme', 'key-1', large)).not.toBe(await personal.seal('acme', 'key-1', large));
    expect(sealed).toHaveBeenCalledTimes(2);
    expect(personal.reusableSeals).toBe(0);
  });

  it('reuses nothing when reuse is off', async () => {
    const envelope = new EnvelopeVault(new LocalKeyring([newKey()]), keysInMemory(), { now: () => 0 }, { purpose: 'audit-subject-key' });
    const personal = new EnvelopePersonalDataVault(envelope);
    expect(await personal.seal('acme', 'key-1', data('a'))).not.toBe(await personal.seal('acme', 'key-1', data('a')));
    expect(personal.reusableSeals).toBe(0);
  });
});
