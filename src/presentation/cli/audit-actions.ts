import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { gatherComplianceReport, type Framework } from '../../application/compliance-report.js';
import { AuditAction, AuditStatus } from '../../domain/index.js';
import { SqlApiKeyRepository } from '../../infrastructure/persistence/sql-api-key-repository.js';
import { SqlTenantRepository } from '../../infrastructure/persistence/sql-tenant-repository.js';
import { chromiumPath, htmlToPdf } from '../../infrastructure/reports/chromium-pdf.js';
import { publicKeyFromPem } from '../../infrastructure/security/audit-signing.js';
import { verifyAuditLog, type VerifyReport } from '../../infrastructure/security/audit-verifier.js';
import { SqlAuditStore } from '../../infrastructure/security/sql-audit-store.js';
import { systemClock } from '../../infrastructure/system/system-clock.js';
import { UuidV7Generator } from '../../infrastructure/system/uuid-v7.js';
import { renderComplianceHtml } from '../reports/compliance-html.js';
import type { CliIo } from './cli-io.js';
import { openDatabase } from './database.js';
import { UsageError } from './usage-error.js';
import { PLAIN } from '../../domain/plain.js';

export interface VerifyFlags {
  tenant?: string;
  from?: string;
  to?: string;
  publicKey: string[];
  json?: boolean;
}

export interface ReportFlags {
  framework: Framework;
  tenant: string;
  from: string;
  to: string;
  format: 'json' | 'html' | 'pdf';
  out?: string;
  publicKey: string[];
}

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

function printReport(report: VerifyReport, where: string, out: CliIo['stdout']): void {
  out.write(`audit log at ${where}: ${report.entries} entries in ${report.chains.length} chain(s) verified in ${report.millis} ms\n`);
  for (const chain of report.chains) {
    const range = `${chain.prunedUpTo !== undefined ? `pruned up to ${chain.prunedUpTo}, ` : ''}${chain.firstSeq !== undefined ? `entries ${chain.firstSeq}-${chain.lastSeq}` : 'no entries in range'}`;
    const checkpoints = `${chain.checkpoints} checkpoint(s)${chain.lastCheckpointSeq !== undefined ? `, last at ${chain.lastCheckpointSeq}` : ''}`;
    const verdict = chain.problem ? `FAILED at ${chain.problem.seq}${chain.problem.entryId ? ` (entry ${chain.problem.entryId})` : ''}: ${chain.problem.reason}` : 'intact';
    out.write(`  tenant ${chain.tenantId}: ${range}, head ${chain.headSeq}, ${checkpoints}: ${verdict}\n`);
  }
  if (!report.signaturesTrusted) out.write('note: checkpoint signatures were checked against the keys the database lists; pass --public-key to check them against a key you trust\n');
}

function writeReport(file: string, output: string | Uint8Array): void {
  try {
    writeFileSync(file, output);
  } catch (error) {
    throw new Error(`--out ${file}: cannot write the report: ${(error as Error).message}`, { cause: error });
  }
}

/** `agentmesh audit report`: the compliance report, recorded in the log as AUDIT_LOG_EXPORTED. */
export async function auditReport(flags: ReportFlags, io: CliIo): Promise<void> {
  const from = Date.parse(flags.from);
  const to = Date.parse(flags.to);
  if (to <= from) throw new UsageError('--to must be after --from');
  if (flags.format === 'pdf' && flags.out === undefined) throw new UsageError('--format pdf needs --out <file>: a PDF is not written to a terminal');
  // Before the database opens and the report is gathered: a wrong path is said at once.
  const outDir = flags.out === undefined ? undefined : dirname(resolve(flags.out));
  if (outDir !== undefined && !existsSync(outDir)) throw new UsageError(`--out ${flags.out}: the directory ${outDir} does not exist`);
  if (flags.out !== undefined && existsSync(flags.out) && statSync(flags.out).isDirectory()) throw new UsageError(`--out ${flags.out} is a directory: name the file to write`);
  const keys = trustedKeys(flags.publicKey);
  const { db, where } = await openDatabase('audit', io.env);
  try {
    if (!(await new SqlTenantRepository(db).get(flags.tenant))) throw new Error(`there is no tenant '${flags.tenant}' in ${where}`);
    const audit = new SqlAuditStore(db, systemClock, new UuidV7Generator());
    const report = await gatherComplianceReport(
      { audit, apiKeys: new SqlApiKeyRepository(db) },
      { framework: flags.framework, tenantId: flags.tenant, from, to },
      { now: Date.now(), generatedBy: `agentmesh audit report on ${where}`, verify: (range) => verifyAuditLog(db, { ...PLAIN, ...range, ...(keys !== undefined && { trustedKeys: keys }) }) },
    );
    const output = flags.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : flags.format === 'html' ? renderComplianceHtml(report) : await htmlToPdf(renderComplianceHtml(report), chromiumPath(io.env));
    if (flags.out !== undefined) writeReport(flags.out, output);
    else io.stdout.write(output);
    await audit.append([
      {
        tenantId: flags.tenant,
        actor: { type: 'operator' },
        action: AuditAction.AUDIT_LOG_EXPORTED,
        resourceType: 'compliance_report',
        resourceId: flags.framework,
        status: AuditStatus.SUCCESS,
        details: { via: 'agentmesh audit report', framework: flags.framework, format: flags.format, from: report.period.from, to: report.period.to, contentHash: report.contentHash, chainIntact: report.chain.intact },
      },
    ]);
    if (flags.out !== undefined) io.stdout.write(`wrote the ${flags.framework} report of tenant '${flags.tenant}' to ${flags.out} (content hash ${report.contentHash})\n`);
    if (!report.chain.intact) {
      io.stderr.write(`agentmesh: the audit chain of tenant '${flags.tenant}' is broken at entry ${report.chain.problem!.seq}: ${report.chain.problem!.reason}\n`);
      io.exitCode = 1;
    }
  } finally {
    await db.close();
  }
}

/** `agentmesh audit verify`: exit 0 when every chain is intact, 1 naming the first bad entry. */
export async function auditVerify(flags: VerifyFlags, io: CliIo): Promise<void> {
  const keys = trustedKeys(flags.publicKey);
  const { db, where } = await openDatabase('audit', io.env);
  let report: VerifyReport;
  try {
    if (flags.tenant !== undefined && !(await new SqlTenantRepository(db).get(flags.tenant))) throw new Error(`there is no tenant '${flags.tenant}' in ${where}`);
    report = await verifyAuditLog(db, {
      ...PLAIN,
      ...(flags.tenant !== undefined && { tenantId: flags.tenant }),
      ...(flags.from !== undefined && { from: Date.parse(flags.from) }),
      ...(flags.to !== undefined && { to: Date.parse(flags.to) }),
      ...(keys !== undefined && { trustedKeys: keys }),
    });
  } finally {
    await db.close();
  }
  if (flags.json) io.stdout.write(`${JSON.stringify(report)}\n`);
  else printReport(report, where, io.stdout);
  if (!report.intact) {
    const bad = report.chains.find((c) => c.problem)!;
    io.stderr.write(`agentmesh: the audit log of tenant '${bad.tenantId}' failed verification at entry ${bad.problem!.seq}${bad.problem!.entryId ? ` (${bad.problem!.entryId})` : ''}: ${bad.problem!.reason}\n`);
    io.exitCode = 1;
  }
}
