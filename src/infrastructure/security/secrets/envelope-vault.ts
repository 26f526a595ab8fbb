import { LRUCache } from 'lru-cache';
import { GoneError, UnavailableError } from '../../../domain/index.js';
import type { Clock, KeyEncryptionKeyRecord, KeyEncryptionKeyRepository, KeyManagementService, SealedValue, SecretVault } from '../../../application/ports.js';
import { newKey, open, seal } from './aes-gcm.js';
import { PLAIN } from '../../../domain/plain.js';

export interface EnvelopeVaultOptions {
  /** Unwrapped key-encryption keys kept in memory, and for how long: a read then costs no master-key call. */
  maxCachedKeys: number;
  cachedKeyTtlMs: number;
  /** What the owners' keys are for, bound into each wrap: `tenant-key` (the secret store) or `audit-subject-key`. */
  purpose: string;
  /**
   * How long which key is an owner's current one is remembered for sealing (0: looked up at every
   * seal). Sealing often (audit entries) wants it; a destruction on another instance is then seen
   * this late, and what this one sealed meanwhile is as unreadable as the rest.
   */
  currentKeyTtlMs: number;
  /**
   * Seal only under a key this instance can unwrap, making a new version when the newest is
   * wrapped by a master key it lacks (an instance configured apart): sealing never fails for want
   * of a key. For the audit log, which must always record; not for secrets, which every instance
   * must be able to read.
   */
  ownKeysOnly: boolean;
  /** A new key version once the current one is this old (bounds the data keys one key wraps); undefined: never. */
  maxKeyAgeMs: number | undefined;
}

export const DEFAULT_ENVELOPE_VAULT_OPTIONS: EnvelopeVaultOptions = {
  maxCachedKeys: 1024,
  cachedKeyTtlMs: 300_000,
  purpose: 'tenant-key',
  currentKeyTtlMs: 0,
  ownKeysOnly: false,
  maxKeyAgeMs: undefined,
};

const dataKeyAad = (owner: string, keyVersion: number, aad: string) => `agentmesh/data-key/v1\0${owner}\0${keyVersion}\0${aad}`;
const valueAad = (aad: string) => `agentmesh/value/v1\0${aad}`;
const cacheKey = (owner: string, version: number) => `${owner}\0${version}`;

/**
 * Envelope encryption: a fresh data key per value (AES-256-GCM), wrapped by its owner's
 * key-encryption key (a tenant's, or a data subject's), which the master key (KMS) wraps in turn.
 * An owner's key is made on first use.
 */
export class EnvelopeVault implements SecretVault {
  private readonly cache: LRUCache<string, Buffer>;
  /** An owner's key being made, so that concurrent first seals make one. */
  private readonly making = new Map<string, Promise<KeyEncryptionKeyRecord>>();
  /**
   * An owner's current key being looked up, so that the seals that find it forgotten together (at
   * load, every request once its remembered key expires) wait for one lookup instead of each making
   * its own. Holds lookups under way only, so at most one per owner sealing at this moment.
   */
  private readonly lookingUp = new Map<string, Promise<KeyEncryptionKeyRecord>>();
  private readonly purpose: string;
  private readonly ownKeysOnly: boolean;
  private readonly maxKeyAgeMs: number | undefined;
  private readonly currentKeys: LRUCache<string, KeyEncryptionKeyRecord> | undefined;
  /** Moves before and after every destruction: a lookup that spans one is not remembered. */
  private destructions = 0;

  constructor(
    private readonly kms: KeyManagementService,
    private readonly keys: KeyEncryptionKeyRepository,
    private readonly clock: Clock,
    options: Partial<EnvelopeVaultOptions> = {},
  ) {
    const { maxCachedKeys, cachedKeyTtlMs, purpose, currentKeyTtlMs, ownKeysOnly, maxKeyAgeMs } = { ...PLAIN, ...DEFAULT_ENVELOPE_VAULT_OPTIONS, ...options };
    this.purpose = purpose;
    this.ownKeysOnly = ownKeysOnly;
    this.maxKeyAgeMs = maxKeyAgeMs;
    this.currentKeys = currentKeyTtlMs > 0 ? new LRUCache({ max: maxCachedKeys, ttl: currentKeyTtlMs }) : undefined;
    // No zeroing on eviction: a key evicted may still be in use by a seal or open under way.
    this.cache = new LRUCache({ max: maxCachedKeys, ttl: cachedKeyTtlMs });
  }

  get cachedKeys(): number {
    return this.cache.size;
  }

  /** Owners whose current key is remembered (bounded like the keys, each for a few seconds). */
  get currentKeysRemembered(): number {
    return this.currentKeys?.size ?? 0;
  }

  private wrapContext(owner: string): string {
    return `${this.purpose}\0${owner}`;
  }

  async seal(owner: string, aad: string, plaintext: Buffer): Promise<SealedValue> {
    const record = await this.currentKey(owner);
    const kek = await this.unwrapped(record);
    const dataKey = newKey();
    try {
      return {
        tenantKeyVersion: record.version,
        wrappedDataKey: seal(kek, dataKey, dataKeyAad(owner, record.version, aad)).toString('base64'),
        ciphertext: seal(dataKey, plaintext, valueAad(aad)).toString('base64'),
      };
    } finally {
      dataKey.fill(0);
    }
  }

  async open(owner: string, aad: string, sealed: SealedValue, key?: KeyEncryptionKeyRecord | null): Promise<Buffer> {
    const record = key === undefined ? await this.keys.get(owner, sealed.tenantKeyVersion) : (key ?? undefined);
    if (record !== undefined && (record.owner !== owner || record.version !== sealed.tenantKeyVersion)) throw new Error('the key given is not the one that sealed this value');
    if (record === undefined || record.wrappedKey === undefined) {
      this.cache.delete(cacheKey(owner, sealed.tenantKeyVersion));
      throw new GoneError(`the key that sealed this value was destroyed: it can never be read again`, { keyVersion: sealed.tenantKeyVersion });
    }
    const kek = await this.unwrapped(record);
    const dataKey = open(kek, Buffer.from(sealed.wrappedDataKey, 'base64'), dataKeyAad(owner, record.version, aad));
    try {
      return open(dataKey, Buffer.from(sealed.ciphertext, 'base64'), valueAad(aad));
    } finally {
      dataKey.fill(0);
    }
  }

  /** Crypto-shredding: every key of the owner destroyed, so nothing sealed for it so far opens again. */
  async destroyTenantKeys(owner: string): Promise<number> {
    this.destructions++;
    this.currentKeys?.delete(owner);
    // A seal that starts from now on looks the key up (and makes one) afresh rather than join work begun before.
    this.forgetWorkUnderWay(owner);
    const destroyed = await this.keys.destroyAll(owner, this.clock.now()).finally(() => {
      this.currentKeys?.delete(owner);
      this.forgetWorkUnderWay(owner);
      this.destructions++;
    });
    for (const key of [...this.cache.keys()]) if (key.startsWith(`${owner}\0`)) this.cache.delete(key);
    if (destroyed > 0) await this.keys.purgeReplaced();
    return destroyed;
  }

  private forgetWorkUnderWay(owner: string): void {
    this.lookingUp.delete(owner);
    this.making.delete(owner);
  }

  /**
   * Re-wraps every key wrapped by an older master key with the current one; owners' keys and the
   * values they seal are untouched. Keys no configured master key opens are counted, with those masters' ids.
   */
  async rewrapAll(batch = 100): Promise<{ rewrapped: number; skipped: number; missingMasterKeys: string[] }> {
    let rewrapped = 0;
    const skipped = new Set<string>();
    const missing = new Set<string>();
    for (;;) {
      const stale = (await this.keys.wrappedByOtherThan(this.kms.currentKeyId, batch + skipped.size)).filter((r) => !skipped.has(cacheKey(r.owner, r.version)));
      if (stale.length === 0) {
        // The forms wrapped by the retired master key go from the files too.
        if (rewrapped > 0) await this.keys.purgeReplaced();
        return { rewrapped, skipped: skipped.size, missingMasterKeys: [...missing] };
      }
      for (const record of stale) {
        if (!this.kms.canUnwrap(record.masterKeyId)) {
          skipped.add(cacheKey(record.owner, record.version));
          missing.add(record.masterKeyId);
          continue;
        }
        const plain = await this.kms.unwrap(record.masterKeyId, record.wrappedKey!, this.wrapContext(record.owner));
        const { keyId, wrapped } = await this.kms.wrap(plain, this.wrapContext(record.owner));
        plain.fill(0);
        if (await this.keys.rewrap(record.owner, record.version, record.masterKeyId, keyId, wrapped)) rewrapped++;
      }
    }
  }

  private currentKey(owner: string): Promise<KeyEncryptionKeyRecord> {
    const remembered = this.currentKeys?.get(owner);
    if (remembered !== undefined) return Promise.resolve(remembered);
    return this.shared(this.lookingUp, owner, () => this.lookUpCurrentKey(owner));
  }

  /**
   * `work` for an owner once at a time: callers meanwhile share its promise. A destruction drops
   * the entry, so callers after it start afresh rather than join work begun before.
   */
  private shared(flights: Map<string, Promise<KeyEncryptionKeyRecord>>, owner: string, work: () => Promise<KeyEncryptionKeyRecord>): Promise<KeyEncryptionKeyRecord> {
    const underWay = flights.get(owner);
    if (underWay !== undefined) return underWay;
    const flight: Promise<KeyEncryptionKeyRecord> = work().finally(() => {
      // Dropped by a destruction meanwhile, a later caller may have started another.
      if (flights.get(owner) === flight) flights.delete(owner);
    });
    flights.set(owner, flight);
    return flight;
  }

  private async lookUpCurrentKey(owner: string): Promise<KeyEncryptionKeyRecord> {
    const epoch = this.destructions;
    const found = this.ownKeysOnly ? await this.keys.currentWrappedBy(owner, this.kms.keyIds) : await this.keys.current(owner);
    const record = found !== undefined && this.fresh(found) ? found : await this.makeKey(owner);
    if (epoch === this.destructions) this.currentKeys?.set(owner, record);
    return record;
  }

  /** Young enough to seal more under it. */
  private fresh(record: KeyEncryptionKeyRecord): boolean {
    return this.maxKeyAgeMs === undefined || this.clock.now() - record.createdAt < this.maxKeyAgeMs;
  }

  /** What a new seal may use: live, fresh, and (with ownKeysOnly) unwrappable here. */
  private usable(record: KeyEncryptionKeyRecord | undefined): record is KeyEncryptionKeyRecord {
    return record?.wrappedKey !== undefined && this.fresh(record) && (!this.ownKeysOnly || this.kms.canUnwrap(record.masterKeyId));
  }

  private async unwrapped(record: KeyEncryptionKeyRecord): Promise<Buffer> {
    const key = cacheKey(record.owner, record.version);
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    if (!this.kms.canUnwrap(record.masterKeyId)) {
      // A configuration fault of this instance, not the caller's: answer 503 and say what is missing.
      throw new UnavailableError(`${this.purpose === 'tenant-key' ? "the tenant's key" : `the ${this.purpose}`} is wrapped by master key ${record.masterKeyId}, which this instance does not have: give every instance the same AGENTMESH_MASTER_KEY(_FILE)`, 30);
    }
    const epoch = this.destructions;
    const plain = await this.kms.unwrap(record.masterKeyId, record.wrappedKey!, this.wrapContext(record.owner));
    // Not kept when a destruction ran meanwhile: it may have been this key's.
    if (epoch === this.destructions) this.cache.set(key, plain);
    return plain;
  }

  private makeKey(owner: string): Promise<KeyEncryptionKeyRecord> {
    return this.shared(this.making, owner, () => this.createKey(owner));
  }

  private async createKey(owner: string, attempt = 1): Promise<KeyEncryptionKeyRecord> {
    const latest = await this.keys.latestVersion(owner);
    // Another instance may have made one since this one looked.
    const newest = latest > 0 ? await this.keys.get(owner, latest) : undefined;
    if (this.usable(newest)) return newest;
    const plain = newKey();
    const { keyId, wrapped } = await this.kms.wrap(plain, this.wrapContext(owner));
    plain.fill(0);
    const record: KeyEncryptionKeyRecord = { owner, version: latest + 1, masterKeyId: keyId, wrappedKey: wrapped, createdAt: this.clock.now() };
    if (await this.keys.create(record)) return record;
    // Another instance made that version first: use it if this one can, else make the next.
    const current = await this.keys.get(owner, record.version);
    if (this.usable(current)) return current;
    if (attempt >= 5) throw new UnavailableError(`could not make a key for '${owner}': other instances keep making them`, 1);
    return this.createKey(owner, attempt + 1);
  }
}
