import { generateKeyPairSync, createPublicKey, createPrivateKey } from 'node:crypto';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteClient } from '../../../src/infrastructure/persistence/pglite-client.js';
import { DEVELOPMENT_KEY_FILE } from '../../../src/infrastructure/security/audit-signing.js';
import { verifyAuditLog } from '../../../src/infrastructure/security/audit-verifier.js';
import { registerAgent } from '../../support/api-helpers.js';
import { cli, cliInProcess, oneLine } from '../../support/cli-run.js';
import { startHarness } from '../../support/mesh-harness.js';
import { fastScratchDir } from '../../support/scratch.js';

/**
 * An auditor's view: the mesh writes its log and stops; someone with full access to the database
 * (a superuser who turns the triggers off) changes it; `agentmesh audit verify` must notice.
 */
describe('agentmesh audit verify on a tampered log', { timeout: 90_000 }, () => {
  let original: string;
  // The mesh's data and its ten copies: in memory where the machine has /dev/shm (a copy on disk took 0.4-0.9 s).
  const scratch = fastScratchDir('agentmesh-tamper-');
  let ids: string[] = [];
  let publicKeyFile: string;

  beforeAll(async () => {
    const h = await startHarness({}, join(scratch, 'original'));
    for (let i = 0; i < 12; i++) await registerAgent(h, `agent-${i}`, ['summarize']);
    await h.running.checkpointer.checkpoint();
    // Entries after the last checkpoint: verification covers them by the chain alone.
    for (let i = 12; i < 15; i++) await registerAgent(h, `agent-${i}`, ['summarize']);
    original = h.dataDir;
    await h.stop();
    const db = await PgliteClient.open(original);
    ids = (await db.query<{ id: string }>("SELECT id FROM audit_log WHERE tenant_id = 'default' ORDER BY seq")).rows.map((r) => r.id);
    await db.close();
    publicKeyFile = join(scratch, 'trusted.pub.pem');
    writeFileSync(publicKeyFile, createPublicKey(createPrivateKey(readFileSync(join(original, DEVELOPMENT_KEY_FILE)))).export({ type: 'spki', format: 'pem' }));
  }, 120_000);
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** A copy of the mesh's data as it stopped. */
  function intactCopy(name: string): string {
    const dir = join(scratch, name);
    cpSync(original, dir, { recursive: true });
    return dir;
  }

  /** A copy of the mesh's data, changed by `tamper` as a superuser with triggers off. */
  async function tampered(name: string, tamper: (db: PgliteClient) => Promise<void>): Promise<string> {
    const dir = intactCopy(name);
    const db = await PgliteClient.open(dir);
    await db.exec("SET session_replication_role = 'replica'");
    await tamper(db);
    await db.close();
    return dir;
  }

  /** `agentmesh audit verify` in this process; the first test runs it as the built CLI, in a process of its own. */
  const verify = (dir: string, ...args: string[]) => cliInProcess(['audit', 'verify', ...args], { AGENTMESH_DATA_DIR: dir });

  it('exits 0 on the intact log, with the trusted key too', async () => {
    expect(ids.length).toBeGreaterThanOrEqual(15);
    const run = await cli(['audit', 'verify', '--public-key', publicKeyFile], { AGENTMESH_DATA_DIR: intactCopy('intact') }, 60_000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/tenant default: entries 1-\d+, head \d+, 2 checkpoint\(s\), last at \d+: intact/u);
    // One checkpoint taken while running, one more as the mesh stopped.
    expect(run.stdout).not.toContain('pass --public-key');
  });

  it('the database itself refuses UPDATE, DELETE and TRUNCATE of the log, even to its owner', async () => {
    const db = await PgliteClient.open(intactCopy('refuse'));
    try {
      await expect(db.query("UPDATE audit_log SET status = 'failure' WHERE seq = 1")).rejects.toThrow(/audit_log is append-only \(UPDATE refused\)/u);
      await expect(db.query('DELETE FROM audit_log WHERE seq = 1')).rejects.toThrow(/append-only \(DELETE refused\)/u);
      await expect(db.query('TRUNCATE audit_log')).rejects.toThrow(/append-only \(TRUNCATE refused\)/u);
      await expect(db.query('DELETE FROM audit_checkpoints')).rejects.toThrow(/audit_checkpoints is append-only/u);
      await expect(db.query("UPDATE audit_signing_keys SET public_key = 'x'")).rejects.toThrow(/audit_signing_keys is append-only/u);
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log')).rows[0]!.n).toBeGreaterThanOrEqual(15);
    } finally {
      await db.close();
    }
  });

  it('names the entry whose content was altered', async () => {
    const dir = await tampered('altered', (db) => db.query("UPDATE audit_log SET status = 'failure' WHERE tenant_id = 'default' AND seq = 5").then(() => undefined));
    const run = await verify(dir);
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toBe(`agentmesh: the audit log of tenant 'default' failed verification at entry 5 (${ids[4]}): was altered (its content does not hash to its hash)`);
  });

  it('names the entry after one that was removed', async () => {
    const dir = await tampered('removed', (db) => db.query("DELETE FROM audit_log WHERE tenant_id = 'default' AND seq = 7").then(() => undefined));
    const run = await verify(dir, '--json');
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report.intact).toBe(false);
    expect(report.chains[0].problem).toEqual({ entryId: ids[7], seq: 8, reason: 'entries 7 to 7 are missing' });
  });

  it('notices two entries that swapped places', async () => {
    const dir = await tampered('reordered', async (db) => {
      await db.query("UPDATE audit_log SET seq = 999999999 WHERE tenant_id = 'default' AND seq = 3");
      await db.query("UPDATE audit_log SET seq = 3 WHERE tenant_id = 'default' AND seq = 4");
      await db.query("UPDATE audit_log SET seq = 4 WHERE tenant_id = 'default' AND seq = 999999999");
    });
    const run = await verify(dir);
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toContain(`at entry 3 (${ids[3]})`);
  });

  it('notices a chain rewritten from an entry on, hashes and head included, by the signed checkpoint', async () => {
    const dir = await tampered('rewritten', async (db) => {
      const { entryHash } = await import('../../../src/infrastructure/security/audit-chain.js');
      const { entryFromRow } = await import('../../../src/infrastructure/security/audit-rows.js');
      const rows = (await db.query<any>("SELECT * FROM audit_log WHERE tenant_id = 'default' AND seq >= 2 ORDER BY seq")).rows;
      let prev = (await db.query<{ hash: string }>("SELECT hash FROM audit_log WHERE tenant_id = 'default' AND seq = 1")).rows[0]!.hash;
      for (const row of rows) {
        const { hash: _h, prevHash: _p, ...entry } = entryFromRow(row);
        const forged = row.seq === 2 ? { ...entry, status: 'failure' as const } : entry;
        const hash = entryHash(prev, forged);
        await db.query('UPDATE audit_log SET status = $1, prev_hash = $2, hash = $3 WHERE tenant_id = $4 AND seq = $5', [forged.status, prev, hash, 'default', row.seq]);
        prev = hash;
      }
      await db.query("UPDATE audit_heads SET hash = $1 WHERE tenant_id = 'default'", [prev]);
    });
    const run = await verify(dir);
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toMatch(/at entry 12: the entry at 12 differs from the checkpoint signed at /u);
  });

  it('notices entries cut from the end of the chain', async () => {
    const last = ids.length;
    const dir = await tampered('truncated', (db) => db.query("DELETE FROM audit_log WHERE tenant_id = 'default' AND seq > $1", [last - 2]).then(() => undefined));
    const run = await verify(dir);
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toContain(`entries ${last - 1} to `);
  });

  it('notices rows added outside the chain: below its first seq, or left under a forged prune record; the database refuses the first', async () => {
    const trustedKeys = [createPublicKey(readFileSync(publicKeyFile))];
    const inProcess = async (dir: string, range: { from?: number; to?: number } = {}) => {
      const db = await PgliteClient.open(dir);
      try {
        return (await verifyAuditLog(db, { tenantId: 'default', trustedKeys, ...range })).chains[0]!;
      } finally {
        await db.close();
      }
    };
    const forgedRow = (seq: number) =>
      `INSERT INTO audit_log (tenant_id, seq, id, at, actor_type, action, resource_type, resource_id, status, details, prev_hash, hash)
       VALUES ('default', ${seq}, 'forged-${seq}', 1, 'key', 'PERSONAL_DATA_SHREDDED', 'data_subject', 'someone', 'success', '{}', repeat('0', 64), repeat('f', 64))`;
    const refused = await tampered('below-refused', (db) => expect(db.query(forgedRow(0))).rejects.toThrow(/audit_log_seq_from_one/u));
    expect((await inProcess(refused)).problem).toBeUndefined();
    // As it would be in a database that held the row before the constraint came.
    const below = await tampered('below', async (db) => {
      await db.exec('ALTER TABLE audit_log DROP CONSTRAINT audit_log_seq_from_one');
      await db.query(forgedRow(0));
    });
    expect((await inProcess(below)).problem).toMatchObject({ seq: 0, reason: "an entry at seq 0, before the chain's first: it was added outside the chain" });
    // A prune recorded up to a genuine checkpoint, whose entries were never removed (so that edits below it went unread).
    const prune = await tampered('forged-prune', async (db) => {
      await db.query("INSERT INTO audit_prunes SELECT tenant_id, seq, hash, at, 0, at FROM audit_checkpoints WHERE tenant_id = 'default' ORDER BY seq LIMIT 1");
      await db.query("UPDATE audit_log SET status = 'success' WHERE tenant_id = 'default' AND seq = 2");
    });
    expect((await inProcess(prune)).problem?.reason).toMatch(/^the chain is recorded as pruned up to \d+, but entries at or below it remain: the prune record is not genuine$/u);
  });

  it('notices entries cut from the end in a range that starts after what is left, with or without its end', async () => {
    const db = await PgliteClient.open(intactCopy('tail-probe'));
    const { rows } = await db.query<{ seq: number; at: string }>("SELECT seq, at FROM audit_log WHERE tenant_id = 'default' ORDER BY seq DESC LIMIT 3");
    await db.close();
    const from = Number(rows[2]!.at);
    const cut = await tampered('tail-cut', (db) => db.query("DELETE FROM audit_log WHERE tenant_id = 'default' AND at >= $1", [from]).then(() => undefined));
    const check = async (range: { from?: number; to?: number }) => {
      const copy = join(scratch, `tail-cut-${Object.keys(range).join('-')}`);
      cpSync(cut, copy, { recursive: true });
      const verifying = await PgliteClient.open(copy);
      try {
        return (await verifyAuditLog(verifying, { tenantId: 'default', ...range })).chains[0]!;
      } finally {
        await verifying.close();
      }
    };
    for (const range of [{ from }, { from, to: Date.now() + 3_600_000 }]) {
      expect((await check(range)).problem?.reason, JSON.stringify(range)).toMatch(/^entries \d+ to \d+ are missing \(the chain's head is at \d+\)$/u);
    }
  });

  it('refuses checkpoints signed by a key it was not told to trust, or re-signed by a key planted in the database', async () => {
    const other = join(scratch, 'other.pub.pem');
    writeFileSync(other, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    const forged = await tampered('bad-signature', (db) => db.query("UPDATE audit_checkpoints SET signature = $1", [Buffer.alloc(64, 1).toString('base64')]).then(() => undefined));
    // Two copies, two databases: they run at once.
    const [untrusted, bad] = await Promise.all([verify(intactCopy('untrusted'), '--public-key', other), verify(forged)]);
    expect(untrusted.code).toBe(1);
    expect(oneLine(untrusted.stderr)).toMatch(/which is not trusted$/u);

    expect(bad.code).toBe(1);
    expect(oneLine(bad.stderr)).toMatch(/has a bad signature$/u);
  });

  it('verifies a time range, and refuses bad flags with one line and exit 2', async () => {
    const hourAgo = new Date(Date.now() - 3600_000).toISOString();
    const inAnHour = new Date(Date.now() + 3600_000).toISOString();
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    // Each command on a copy of its own (a command holds the directory while it runs), all at once.
    const [ranged, unknown, future, badTime, badKey, memory] = await Promise.all([
      verify(intactCopy('range'), '--tenant', 'default', '--from', hourAgo, '--to', inAnHour),
      verify(intactCopy('range-unknown'), '--tenant', 'nobody'),
      verify(intactCopy('range-future'), '--tenant', 'default', '--from', tomorrow),
      verify(intactCopy('range-bad-time'), '--from', 'yesterday'),
      verify(intactCopy('range-bad-key'), '--public-key', join(scratch, 'missing.pem')),
      cliInProcess(['audit', 'verify'], { AGENTMESH_DATA_DIR: ':memory:' }),
    ]);
    expect(ranged.code).toBe(0);
    expect(unknown.code).toBe(1);
    expect(oneLine(unknown.stderr)).toMatch(/^agentmesh: there is no tenant 'nobody' in /u);
    expect(future.code).toBe(0);
    expect(future.stdout).toContain('tenant default: no entries in range');

    expect(badTime.code).toBe(2);
    expect(oneLine(badTime.stderr)).toBe("agentmesh: --from must be an ISO 8601 time such as 2026-11-01 or 2026-11-01T12:00:00Z, got 'yesterday'");
    expect(badKey.code).toBe(2);
    expect(oneLine(badKey.stderr)).toMatch(/^agentmesh: --public-key .*missing\.pem: ENOENT/u);
    expect(memory.code).toBe(2);
    expect(oneLine(memory.stderr)).toContain('AGENTMESH_DATA_DIR is :memory:');
  });
});
