import { PayloadTooLargeError, ValidationError } from './errors.js';

const IDENTIFIER = /^[A-Za-z0-9._:-]{3,256}$/;
const NAME = /^[A-Za-z0-9._:/-]{1,128}$/;

export function isIdentifier(value: string): boolean {
  return IDENTIFIER.test(value);
}

export function assertIdentifier(value: string, field: string): void {
  if (!isIdentifier(value)) {
    throw new ValidationError(`${field} must be 3-256 characters of [A-Za-z0-9._:-]`, field);
  }
}

/** Capability and tag names: short, no spaces, safe in broker subjects once encoded. */
export function assertName(value: string, field: string): void {
  if (!NAME.test(value)) {
    throw new ValidationError(`${field} must be 1-128 characters of [A-Za-z0-9._:/-]`, field);
  }
}

/**
 * An absolute http(s) URL of at most `maxLength` characters, with no user or password in it (a
 * credential there would be stored and logged with the URL).
 */
export function assertHttpUrl(value: unknown, maxLength: number, field: string): void {
  const refuse = (why: string) => {
    throw new ValidationError(`${field} ${why}`, field);
  };
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) refuse(`must be an http or https URL of 1-${maxLength} characters`);
  let url: URL;
  try {
    url = new URL(value as string);
  } catch {
    return refuse('must be an absolute http or https URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') refuse(`must be an http or https URL, not ${url.protocol}`);
  if (url.username !== '' || url.password !== '') refuse('must not carry a user or password');
}

export function assertIntegerInRange(value: number, min: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(`${field} must be an integer from ${min} to ${max}`, field);
  }
}

/** Size of a JSON value as UTF-8 bytes of its serialization. */
export function jsonByteLength(value: unknown): number {
  const text = JSON.stringify(value ?? null);
  return Buffer.byteLength(text, 'utf8');
}

/**
 * U+0000, and a surrogate without its pair (not text at all), in JSON text, where JSON.stringify
 * writes them as `\u0000` and `\udXXX`: an odd run of backslashes before them. An even run is an
 * escaped backslash followed by those characters written out in a string.
 */
const ESCAPED_NUL = /(?<!\\)(?:\\\\)*\\u0000/u;
const ESCAPED_LONE_SURROGATE = /(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/u;

function refuseUnstorable(json: string, field: string): void {
  if (!json.includes('\\u')) return;
  if (ESCAPED_NUL.test(json)) throw new ValidationError(`${field} must not contain the NUL character (U+0000), which the store cannot keep`, field);
  if (ESCAPED_LONE_SURROGATE.test(json)) throw new ValidationError(`${field} must not contain a lone surrogate (U+D800 to U+DFFF without its pair), which is not text`, field);
}

/** PostgreSQL text and jsonb cannot hold U+0000 or a lone surrogate: refuse them up front with the field's name. */
export function assertStorableText(value: unknown, field: string): void {
  assertNestingWithin(value, field);
  refuseUnstorable(JSON.stringify(value ?? null), field);
}

/** How deep arrays and objects may nest in a client's JSON value (protobuf's JSON parser stops at 100 too). */
export const MAX_JSON_DEPTH = 100;

/**
 * Refuses a value nested deeper than MAX_JSON_DEPTH, walking it without recursion. JSON.parse takes
 * any depth, but JSON.stringify and every recursive walk after it (equality of a repeated
 * completion, the store's own parser) overflow somewhere in the thousands of levels: the client
 * gets a 400 naming the field instead of a 500.
 */
function assertNestingWithin(value: unknown, field: string): void {
  if (typeof value !== 'object' || value === null) return;
  const open: Array<[object, number]> = [[value, 1]];
  while (open.length > 0) {
    const [node, depth] = open.pop()!;
    if (depth > MAX_JSON_DEPTH) throw new ValidationError(`${field} is nested more than ${MAX_JSON_DEPTH} levels deep`, field);
    for (const child of Array.isArray(node) ? node : Object.values(node)) if (typeof child === 'object' && child !== null) open.push([child, depth + 1]);
  }
}

/** At most `limitBytes` as JSON (413 beyond), nested at most MAX_JSON_DEPTH levels, and storable text (400 naming `field`). One serialization for both. */
export function assertJsonWithin(value: unknown, limitBytes: number, field: string): void {
  assertNestingWithin(value, field);
  const json = JSON.stringify(value ?? null);
  const size = Buffer.byteLength(json, 'utf8');
  if (size > limitBytes) throw new PayloadTooLargeError(field, limitBytes, size);
  refuseUnstorable(json, field);
}

/** Equality of two JSON values (object key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((v, i) => jsonEqual(v, other[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
