/** An instance that exited without being asked to, and what it said as it went. */
export interface InstanceExit {
  port: string;
  pid: number;
  code: number | null;
  at: number;
  /** Its last words: an uncaught error's first lines, a fatal log line, or its last error line. */
  reason: string;
  /** Every fatal (level 60) line it logged, caught as they came. */
  fatal: string[];
  /** The last of what it logged. */
  output: string;
}

/** Per-request log lines would crowd out what explains a failure. */
export const quiet = (output: string) => output.split('\n').filter((l) => !l.includes('"msg":"request"'));

/** What an instance said as it died. */
export function lastWords(lines: string[], fatal: string[]): string {
  const uncaught = lines.findIndex((l) => /^(node:internal|node:events)|Unhandled|^\S*Error: /u.test(l));
  if (uncaught >= 0) return lines.slice(uncaught, uncaught + 6).join(' | ');
  return fatal[0] ?? lines.filter((l) => l.includes('"level":50')).at(-1) ?? lines.at(-1) ?? '';
}

