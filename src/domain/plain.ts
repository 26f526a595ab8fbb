/**
 * Spread first in an object literal that copies an object and adds fields to the copy:
 * `{ ...PLAIN, ...task, status }`, never `{ ...task, status }`.
 *
 * When an object literal starts with a spread, Node 20's V8 copies the source's hidden class for
 * that one object, outside the tree of shared ones; a field the source lacks then gives each copy
 * a hidden class of its own. That made such a literal ten times slower (1.5 µs against 0.15), and
 * each of those classes, kept in the old generation, holds its young descriptor array alive: every
 * young collection under load copied and promoted 1–4 MB of them (docs/performance.md, fourteenth
 * session). Spreading an empty object first makes V8 build the copy from the plain object's shape,
 * along transitions every copy shares. test/unit/domain/plain-spread.test.ts keeps every such
 * literal in src/ starting with it.
 */
export const PLAIN = Object.freeze({});
