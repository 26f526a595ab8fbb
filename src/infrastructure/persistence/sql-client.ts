/**
 * A statement run often enough to keep parsed and planned: on PostgreSQL each connection prepares
 * it once under its name, and PGlite once per session (a plain statement is parsed and planned on every call).
 */
export interface NamedStatement {
  readonly name: string;
  readonly text: string;
}

export type Statement = string | NamedStatement;

export const named = (name: string, text: string): NamedStatement => ({ name, text });

/**
 * A parameter typed `json` (not `jsonb`), as its UTF-8 bytes. json's binary form is its text, so
 * the database reads the bytes as it would the string, while the client sends them as they are:
 * PGlite would otherwise measure and encode a long string in JavaScript, character by character
 * (a batch's parameter is hundreds of kilobytes).
 */
export const jsonParam = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** The slice of a PostgreSQL client the stores use: PGlite and node-postgres both fit behind it. */
export interface SqlExecutor {
  query<T = Record<string, unknown>>(sql: Statement, params?: unknown[]): Promise<{ rows: T[] }>;
  /** Runs several statements with no parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface SqlClient extends SqlExecutor {
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** PostgreSQL unique_violation. */
export const UNIQUE_VIOLATION = '23505';

export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === UNIQUE_VIOLATION;
}
