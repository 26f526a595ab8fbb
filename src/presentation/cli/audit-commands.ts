import type { Command } from 'commander';
import { FRAMEWORKS } from '../../application/compliance-report.js';
import type { ReportFlags, VerifyFlags } from './audit-actions.js';
import type { CliIo } from './cli-io.js';
import { groupOfCommands, nonEmpty, UsageError } from './usage-error.js';

function parseTime(name: string) {
  return (value: string): string => {
    if (Number.isNaN(Date.parse(value))) throw new UsageError(`${name} must be an ISO 8601 time such as 2026-11-01 or 2026-11-01T12:00:00Z, got '${value}'`);
    return value;
  };
}

const collect = (value: string, previous: string[]) => [...previous, value];

function oneOf<T extends string>(name: string, allowed: readonly T[]) {
  return (value: string): T => {
    if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${name} must be one of ${allowed.join(', ')}, got '${value}'`);
    return value as T;
  };
}

export function registerAuditCommands(program: Command, io: CliIo): void {
  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('report')
    .description("a compliance report of a tenant's audit log for a period, read from the database (recorded in the log as AUDIT_LOG_EXPORTED)")
    .requiredOption('--framework <name>', `one of ${FRAMEWORKS.join(', ')}`, oneOf('--framework', FRAMEWORKS))
    .requiredOption('--tenant <id>', 'the tenant', nonEmpty('--tenant'))
    .requiredOption('--from <time>', 'start of the period (ISO 8601, inclusive)', parseTime('--from'))
    .requiredOption('--to <time>', 'end of the period (ISO 8601, exclusive)', parseTime('--to'))
    .option('--format <format>', 'json, html, or pdf (printed by Chromium)', oneOf('--format', ['json', 'html', 'pdf'] as const), 'json')
    .option('--out <file>', 'write the report here instead of standard output (required for pdf)', nonEmpty('--out'))
    .option('--public-key <file>', 'a trusted Ed25519 public key (PEM) to check the checkpoints with; repeatable', collect, [])
    .action(async (flags: ReportFlags) => (await import('./audit-actions.js')).auditReport(flags, io));
  audit
    .command('verify')
    .description('recompute the hash chains and checkpoint signatures; exit 0 when intact, 1 with the first bad entry')
    .option('--tenant <id>', 'only this tenant\'s chain', nonEmpty('--tenant'))
    .option('--from <time>', 'from this time (ISO 8601), anchored on the entry before it', parseTime('--from'))
    .option('--to <time>', 'up to this time (ISO 8601, exclusive)', parseTime('--to'))
    .option('--public-key <file>', 'a trusted Ed25519 public key (PEM) that signs checkpoints; repeatable', collect, [])
    .option('--json', 'print the report as JSON')
    .action(async (flags: VerifyFlags) => (await import('./audit-actions.js')).auditVerify(flags, io));
  groupOfCommands(audit);
}
