import { createRequire } from 'node:module';

/** RFC 8785 (JCS) canonical JSON, by the RFC's author's library (CommonJS, whose types declare an ESM default). */
export const canonicalJson = createRequire(import.meta.url)('canonicalize') as (value: unknown) => string | undefined;
