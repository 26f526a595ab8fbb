import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalEntry, checkpointMessage, entryHash, GENESIS_HASH } from '../../../src/infrastructure/security/audit-chain.js';
import { keyIdOf, publicKeyFromPem, verifySignature } from '../../../src/infrastructure/security/audit-signing.js';

const entry = {
  id: '0190a2b4-0000-7000-8000-000000000001',
  tenantId: 'acme',
  seq: 1,
  at: 1_700_000_000_000,
  actor: { type: 'key' as const, keyId: 'k1', role: 'admin' },
  action: 'AGENT_CREATED' as const,
  resourceType: 'agent',
  resourceId: 'a1',
  status: 'success' as const,
  details: { b: 2, a: [1, 'x'], c: { z: true, y: null } },
};

describe('audit chain', () => {
  it('hashes the RFC 8785 canonical form: key order does not matter, absent fields are left out', () => {
    expect(canonicalEntry(entry)).toBe(
      '{"action":"AGENT_CREATED","actor":{"keyId":"k1","role":"admin","type":"key"},"at":1700000000000,"details":{"a":[1,"x"],"b":2,"c":{"y":null,"z":true}},"id":"0190a2b4-0000-7000-8000-000000000001","resourceId":"a1","resourceType":"agent","seq":1,"status":"success","tenantId":"acme"}',
    );
    const reordered = { ...entry, details: { c: { y: null, z: true }, a: [1, 'x'], b: 2 } };
    expect(entryHash(GENESIS_HASH, reordered)).toBe(entryHash(GENESIS_HASH, entry));
  });

  it('changes with any field, with the previous hash, and with the place in the chain', () => {
    const base = entryHash(GENESIS_HASH, entry);
    expect(base).toMatch(/^[0-9a-f]{64}$/u);
    expect(entryHash(GENESIS_HASH, { ...entry, status: 'failure' })).not.toBe(base);
    expect(entryHash(GENESIS_HASH, { ...entry, details: { ...entry.details, b: 3 } })).not.toBe(base);
    expect(entryHash(GENESIS_HASH, { ...entry, seq: 2 })).not.toBe(base);
    expect(entryHash('1'.repeat(64), entry)).not.toBe(base);
  });

  it('is domain-separated: not the plain SHA-256 of the canonical form', async () => {
    const { createHash } = await import('node:crypto');
    expect(entryHash(GENESIS_HASH, entry)).not.toBe(createHash('sha256').update(GENESIS_HASH + canonicalEntry(entry)).digest('hex'));
  });

  it('checkpoint signatures verify with the signing key only, and only for the signed head', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const other = generateKeyPairSync('ed25519').publicKey;
    const body = { tenantId: 'acme', seq: 10, hash: 'a'.repeat(64), at: 1 };
    const signature = sign(null, checkpointMessage(body), privateKey).toString('base64');
    expect(verifySignature(publicKey, checkpointMessage(body), signature)).toBe(true);
    expect(verifySignature(other, checkpointMessage(body), signature)).toBe(false);
    expect(verifySignature(publicKey, checkpointMessage({ ...body, seq: 11 }), signature)).toBe(false);
    expect(verifySignature(publicKey, checkpointMessage(body), 'not base64 at all')).toBe(false);
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(keyIdOf(publicKeyFromPem(pem))).toBe(keyIdOf(publicKey));
    expect(() => publicKeyFromPem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString())).toThrow(/Ed25519/u);
  });
});

describe('audit chain canonical form', () => {
  it('hashes an entry without sealed personal data exactly as before those fields existed', () => {
    const entry = { id: 'e1', tenantId: 't', seq: 1, at: 5, actor: { type: 'key' as const, keyId: 'k' }, action: 'TASK_SUBMITTED' as const, resourceType: 'task', status: 'success' as const, sourceIp: '10.0.0.1' };
    // The form written by the build before personal data was sealed (schema version 3).
    expect(canonicalEntry(entry)).toBe('{"action":"TASK_SUBMITTED","actor":{"keyId":"k","type":"key"},"at":5,"id":"e1","resourceType":"task","seq":1,"sourceIp":"10.0.0.1","status":"success","tenantId":"t"}');
    expect(canonicalEntry({ ...entry, sourceIp: undefined, subjectId: 'k', personal: 'p1.1.x.y' } as never)).toBe(
      '{"action":"TASK_SUBMITTED","actor":{"keyId":"k","type":"key"},"at":5,"id":"e1","personal":"p1.1.x.y","resourceType":"task","seq":1,"status":"success","subjectId":"k","tenantId":"t"}',
    );
  });

  it('writes exactly what the RFC 8785 library writes for the whole entry, for any entry', async () => {
    const fc = (await import('fast-check')).default;
    const { canonicalEntryReference } = await import('../../../src/infrastructure/security/audit-chain.js');
    const text = fc.string({ unit: 'binary', maxLength: 20 });
    const optional = <T>(arb: import('fast-check').Arbitrary<T>) => fc.option(arb, { nil: undefined });
    const arbitraryEntry = fc.record({
      id: text,
      tenantId: text,
      seq: fc.nat(),
      at: fc.nat(),
      actor: fc.record({ type: fc.constantFrom('key', 'system', 'anonymous'), keyId: optional(text), role: optional(text), agentId: optional(text) }, { requiredKeys: ['type'] }),
      action: fc.constantFrom('AGENT_CREATED', 'TASK_SUBMITTED'),
      resourceType: text,
      resourceId: optional(text),
      status: fc.constantFrom('success', 'failure'),
      sourceIp: optional(text),
      userAgent: optional(text),
      traceId: optional(text),
      details: optional(fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }))),
      subjectId: optional(text),
      personal: optional(text),
    });
    fc.assert(
      fc.property(arbitraryEntry, (e) => {
        const clean = Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as typeof e;
        expect(canonicalEntry(clean as never)).toBe(canonicalEntryReference(clean as never));
      }),
      { numRuns: 500 },
    );
  });
});

describe('audit chain string form', () => {
  it('writes any string exactly as JSON.stringify does (RFC 8785 strings), lone surrogates and control characters included', async () => {
    const fc = (await import('fast-check')).default;
    const { jsonText } = await import('../../../src/infrastructure/security/audit-chain.js');
    for (const s of ['', 'plain', 'a"b', 'a\\b', '\u0000', '\u001f', '\u007f', '\ud83d\ude00', '\ud83d', 'x\ude00', '\u2028', 'é']) expect(jsonText(s)).toBe(JSON.stringify(s));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary-ascii' }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) })), (s) => {
        expect(jsonText(s)).toBe(JSON.stringify(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the same hash as every earlier build for the same entry', () => {
    // Pinned: a change here breaks every chain already written.
    expect(entryHash(GENESIS_HASH, entry)).toBe('6d8272898540a6935f7f73843fd8e8b757adb6f7e5e04a517b8422e7bab0c0ee');
  });
});
