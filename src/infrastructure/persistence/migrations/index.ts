import { sql as init } from './001-init.js';
import { sql as outbox } from './002-outbox.js';
import { sql as audit } from './003-audit.js';
import { sql as secrets } from './004-secrets.js';
import { sql as auditPersonalData } from './005-audit-personal-data.js';
import { sql as apiKeyRateLimits } from './006-api-key-rate-limits.js';
import { sql as meshLeader } from './007-mesh-leader.js';
import { sql as auditHardening } from './008-audit-hardening.js';
import { sql as meshLeaderRedis } from './009-mesh-leader-redis.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Forward-only and versioned: append, never edit one that has shipped. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'init', sql: init },
  { version: 2, name: 'outbox', sql: outbox },
  { version: 3, name: 'audit', sql: audit },
  { version: 4, name: 'secrets', sql: secrets },
  { version: 5, name: 'audit personal data', sql: auditPersonalData },
  { version: 6, name: 'api key rate limits', sql: apiKeyRateLimits },
  { version: 7, name: 'mesh leader', sql: meshLeader },
  { version: 8, name: 'audit hardening', sql: auditHardening },
  { version: 9, name: 'mesh leader redis', sql: meshLeaderRedis },
];
