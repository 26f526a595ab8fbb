import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import type { Command } from 'commander';
import { publicKeyFromPem } from '../../infrastructure/security/audit-signing.js';
import { verifyAuditLog, type VerifyReport } from '../../infrastructure/security/audit-verifier.js';
import { openDatabase } from './database.js';
import { UsageError } from './usage-error.js';

interface VerifyFlags {
  tenant?: string;
  from?: string;
  to?: string;
  publicKey: string[];
  json?: boolean;
}

function parseTime(name: string) {
  return (value: string): string => {
    if (Number.isNaN(Date.parse(value))) throw new UsageError(`${name} must be an ISO 8601 time such as 2026-11-01 or 2026-11-01T12:00:00Z, got '${value}'`);
    return value;
  };
}

const collect = (value: string, previous: string[]) => [...previous, value];

function trustedKeys(files: string[]): KeyObject[] | undefined {
  if (files.length === 0) return undefined;
  return files.map((file) => {
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(`--public-key ${file}: ${(error as Error).message}`);
    }
    try {
      return publicKeyFromPem(pem);
    } catch (error) {
      throw new UsageError(`--public-key ${file} is not an Ed25519 key in PEM: ${(error as Error).message}`);
    }
  });
}

function printReport(report: VerifyReport, where: string): void {
  const out = process.stdout;
  out.write(`audit log at ${where}: ${report.entries} entries in ${report.chains.length} chain(s) verified in ${report.millis} ms\n`);
  for (const chain of report.chains) {
    const range = chain.firstSeq !== undefined ? `entries ${chain.firstSeq}-${chain.lastSeq}` : 'no entries in range';
    const checkpoints = `${chain.checkpoints} checkpoint(s)${chain.lastCheckpointSeq !== undefined ? `, last at ${chain.lastCheckpointSeq}` : ''}`;
    const verdict = chain.problem ? `TAMPERED at ${chain.problem.seq}${chain.problem.entryId ? ` (entry ${chain.problem.entryId})` : ''}: ${chain.problem.reason}` : 'intact';
    out.write(`  tenant ${chain.tenantId}: ${range}, head ${chain.headSeq}, ${checkpoints}: ${verdict}\n`);
  }
  if (!report.signaturesTrusted) out.write('note: checkpoint signatures were checked against the keys the database lists; pass --public-key to check them against a key you trust\n');
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('verify')
    .description('recompute the hash chains and checkpoint signatures; exit 0 when intact, 1 with the first bad entry')
    .option('--tenant <id>', 'only this tenant\'s chain')
    .option('--from <time>', 'from this time (ISO 8601), anchored on the entry before it', parseTime('--from'))
    .option('--to <time>', 'up to this time (ISO 8601, exclusive)', parseTime('--to'))
    .option('--public-key <file>', 'a trusted Ed25519 public key (PEM) that signs checkpoints; repeatable', collect, [])
    .option('--json', 'print the report as JSON')
    .action(async (flags: VerifyFlags) => {
      const keys = trustedKeys(flags.publicKey);
      const { db, where } = await openDatabase('audit');
      let report: VerifyReport;
      try {
        report = await verifyAuditLog(db, {
          ...(flags.tenant !== undefined && { tenantId: flags.tenant }),
          ...(flags.from !== undefined && { from: Date.parse(flags.from) }),
          ...(flags.to !== undefined && { to: Date.parse(flags.to) }),
          ...(keys !== undefined && { trustedKeys: keys }),
        });
      } finally {
        await db.close();
      }
      if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else printReport(report, where);
      if (!report.intact) {
        const bad = report.chains.find((c) => c.problem)!;
        process.stderr.write(`agentmesh: the audit log of tenant '${bad.tenantId}' was tampered with at entry ${bad.problem!.seq}${bad.problem!.entryId ? ` (${bad.problem!.entryId})` : ''}: ${bad.problem!.reason}\n`);
        process.exitCode = 1;
      }
    });
}
