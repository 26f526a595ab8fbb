import type { Logger } from '../../application/logger.js';
import type { Clock } from '../../application/ports.js';
import type { SqlClient } from '../persistence/sql-client.js';
import { checkpointMessage } from './audit-chain.js';
import type { AuditSigner } from './audit-signing.js';

/** Heads that moved since their last checkpoint. */
const MOVED_HEADS = `
SELECT h.tenant_id, h.seq, h.hash FROM audit_heads h
WHERE h.seq > coalesce((SELECT max(c.seq) FROM audit_checkpoints c WHERE c.tenant_id = h.tenant_id), 0)
ORDER BY h.tenant_id LIMIT 10000`;
const PAGE = 10_000;

const INSERT_CHECKPOINTS = `
INSERT INTO audit_checkpoints (tenant_id, seq, hash, at, key_id, signature)
SELECT r.tenant_id, r.seq, r.hash, r.at, r.key_id, r.signature
FROM json_to_recordset($1::json) AS r(tenant_id text, seq bigint, hash text, at bigint, key_id text, signature text)
ON CONFLICT DO NOTHING`;

/**
 * Signs the head of every chain that moved, every `intervalMs` and once more on stop. A
 * checkpoint pins the chain up to its head: rewriting the chain before it (and every hash after)
 * would need the signing key.
 */
export class AuditCheckpointer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private keyRegistered = false;
  written = 0;

  constructor(
    private readonly db: SqlClient,
    private readonly signer: AuditSigner,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.checkpoint().catch((error: Error) => this.logger.warn({ err: error }, 'audit checkpoint failed; trying again at the next interval')), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    try {
      await this.checkpoint();
    } catch (error) {
      this.logger.warn({ err: error }, 'last audit checkpoint failed; the chains are checkpointed at the next start');
    }
  }

  /** Checkpoints every moved head now; returns how many. One run at a time. */
  checkpoint(): Promise<number> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<number> {
    if (!this.keyRegistered) {
      await this.db.query('INSERT INTO audit_signing_keys (key_id, public_key, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        this.signer.keyId,
        this.signer.publicKeyPem,
        this.clock.now(),
      ]);
      this.keyRegistered = true;
    }
    let written = 0;
    // Pages of moved heads until none is left (a page's checkpoints take its heads out of the next).
    for (let page = 0; page < 100; page++) {
      const { rows } = await this.db.query<{ tenant_id: string; seq: number | string; hash: string }>(MOVED_HEADS);
      if (rows.length === 0) break;
      const at = this.clock.now();
      const checkpoints = rows.map((r) => {
        const body = { tenantId: r.tenant_id, seq: Number(r.seq), hash: r.hash, at };
        return { tenant_id: body.tenantId, seq: body.seq, hash: body.hash, at, key_id: this.signer.keyId, signature: this.signer.sign(checkpointMessage(body)) };
      });
      await this.db.query(INSERT_CHECKPOINTS, [JSON.stringify(checkpoints)]);
      written += checkpoints.length;
      if (rows.length < PAGE) break;
    }
    this.written += written;
    return written;
  }
}
