import { LRUCache } from 'lru-cache';
import { GoneError, UnavailableError } from '../../../domain/index.js';
import type { Clock, KeyManagementService, SealedValue, SecretVault, TenantKeyRecord, TenantKeyRepository } from '../../../application/ports.js';
import { newKey, open, seal } from './aes-gcm.js';

export interface EnvelopeVaultOptions {
  /** Unwrapped tenant keys kept in memory, and for how long: a read then costs no master-key call. */
  maxCachedKeys: number;
  cachedKeyTtlMs: number;
}

export const DEFAULT_ENVELOPE_VAULT_OPTIONS: EnvelopeVaultOptions = { maxCachedKeys: 1024, cachedKeyTtlMs: 300_000 };

const tenantKeyContext = (tenantId: string) => `tenant-key\0${tenantId}`;
const dataKeyAad = (tenantId: string, keyVersion: number, aad: string) => `agentmesh/data-key/v1\0${tenantId}\0${keyVersion}\0${aad}`;
const valueAad = (aad: string) => `agentmesh/value/v1\0${aad}`;

/**
 * Envelope encryption: a fresh data key per value (AES-256-GCM), wrapped by the tenant's key, which
 * the master key (KMS) wraps in turn. The tenant's key is made on first use.
 */
export class EnvelopeVault implements SecretVault {
  private readonly cache: LRUCache<string, Buffer>;
  /** A tenant's key being made, so that concurrent first seals make one. */
  private readonly making = new Map<string, Promise<TenantKeyRecord>>();

  constructor(
    private readonly kms: KeyManagementService,
    private readonly keys: TenantKeyRepository,
    private readonly clock: Clock,
    options: EnvelopeVaultOptions = DEFAULT_ENVELOPE_VAULT_OPTIONS,
  ) {
    // No zeroing on eviction: a key evicted may still be in use by a seal or open under way.
    this.cache = new LRUCache({ max: options.maxCachedKeys, ttl: options.cachedKeyTtlMs });
  }

  get cachedKeys(): number {
    return this.cache.size;
  }

  async seal(tenantId: string, aad: string, plaintext: Buffer): Promise<SealedValue> {
    const record = (await this.keys.current(tenantId)) ?? (await this.makeKey(tenantId));
    const tenantKey = await this.unwrapped(record);
    const dataKey = newKey();
    try {
      return {
        tenantKeyVersion: record.version,
        wrappedDataKey: seal(tenantKey, dataKey, dataKeyAad(tenantId, record.version, aad)).toString('base64'),
        ciphertext: seal(dataKey, plaintext, valueAad(aad)).toString('base64'),
      };
    } finally {
      dataKey.fill(0);
    }
  }

  async open(tenantId: string, aad: string, sealed: SealedValue, tenantKey?: TenantKeyRecord | null): Promise<Buffer> {
    const record = tenantKey === undefined ? await this.keys.get(tenantId, sealed.tenantKeyVersion) : (tenantKey ?? undefined);
    if (record !== undefined && (record.tenantId !== tenantId || record.version !== sealed.tenantKeyVersion)) throw new Error('the tenant key given is not the one that sealed this value');
    if (record === undefined || record.wrappedKey === undefined) {
      this.cache.delete(cacheKey(tenantId, sealed.tenantKeyVersion));
      throw new GoneError(`the tenant key that sealed this value was destroyed: it can never be read again`, { tenantKeyVersion: sealed.tenantKeyVersion });
    }
    const kek = await this.unwrapped(record);
    const dataKey = open(kek, Buffer.from(sealed.wrappedDataKey, 'base64'), dataKeyAad(tenantId, record.version, aad));
    try {
      return open(dataKey, Buffer.from(sealed.ciphertext, 'base64'), valueAad(aad));
    } finally {
      dataKey.fill(0);
    }
  }

  async destroyTenantKeys(tenantId: string): Promise<number> {
    const destroyed = await this.keys.destroyAll(tenantId, this.clock.now());
    for (const key of [...this.cache.keys()]) if (key.startsWith(`${tenantId}\0`)) this.cache.delete(key);
    return destroyed;
  }

  /** Re-wraps every tenant key wrapped by an older master key with the current one; returns how many. Tenant keys and values are untouched. */
  async rewrapAll(batch = 100): Promise<{ rewrapped: number; skipped: number; missingMasterKeys: string[] }> {
    let rewrapped = 0;
    const skipped = new Set<string>();
    const missing = new Set<string>();
    for (;;) {
      const stale = (await this.keys.wrappedByOtherThan(this.kms.currentKeyId, batch + skipped.size)).filter((r) => !skipped.has(`${r.tenantId}\0${r.version}`));
      if (stale.length === 0) return { rewrapped, skipped: skipped.size, missingMasterKeys: [...missing] };
      for (const record of stale) {
        if (!this.kms.canUnwrap(record.masterKeyId)) {
          skipped.add(`${record.tenantId}\0${record.version}`);
          missing.add(record.masterKeyId);
          continue;
        }
        const plain = await this.kms.unwrap(record.masterKeyId, record.wrappedKey!, tenantKeyContext(record.tenantId));
        const { keyId, wrapped } = await this.kms.wrap(plain, tenantKeyContext(record.tenantId));
        plain.fill(0);
        if (await this.keys.rewrap(record.tenantId, record.version, record.masterKeyId, keyId, wrapped)) rewrapped++;
      }
    }
  }

  private async unwrapped(record: TenantKeyRecord): Promise<Buffer> {
    const key = cacheKey(record.tenantId, record.version);
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    if (!this.kms.canUnwrap(record.masterKeyId)) {
      // A configuration fault of this instance, not the caller's: answer 503 and say what is missing.
      throw new UnavailableError(`the tenant's key is wrapped by master key ${record.masterKeyId}, which this instance does not have: give every instance the same AGENTMESH_MASTER_KEY(_FILE)`, 30);
    }
    const plain = await this.kms.unwrap(record.masterKeyId, record.wrappedKey!, tenantKeyContext(record.tenantId));
    this.cache.set(key, plain);
    return plain;
  }

  private makeKey(tenantId: string): Promise<TenantKeyRecord> {
    let making = this.making.get(tenantId);
    if (making === undefined) {
      making = this.createKey(tenantId).finally(() => this.making.delete(tenantId));
      this.making.set(tenantId, making);
    }
    return making;
  }

  private async createKey(tenantId: string): Promise<TenantKeyRecord> {
    const latest = await this.keys.latestVersion(tenantId);
    // Another instance may have made one since this one looked.
    const newest = latest > 0 ? await this.keys.get(tenantId, latest) : undefined;
    if (newest?.wrappedKey !== undefined) return newest;
    const plain = newKey();
    const { keyId, wrapped } = await this.kms.wrap(plain, tenantKeyContext(tenantId));
    plain.fill(0);
    const record: TenantKeyRecord = { tenantId, version: latest + 1, masterKeyId: keyId, wrappedKey: wrapped, createdAt: this.clock.now() };
    if (await this.keys.create(record)) return record;
    // Another instance made one first: use it.
    const current = await this.keys.current(tenantId);
    if (current === undefined) throw new Error(`could not make a key for tenant '${tenantId}'`);
    return current;
  }
}

const cacheKey = (tenantId: string, version: number) => `${tenantId}\0${version}`;
