import { describe, expect, it } from 'vitest';
import { boundedDetails, boundedText, MAX_AUDIT_DETAILS_BYTES, REDACTED } from '../../../src/domain/index.js';

describe('audit details', () => {
  it('redacts secret-looking fields at any depth and keeps the rest', () => {
    const details = boundedDetails({ name: 'x', apiKey: 'am_123', nested: { password: 'p', Authorization: 'Bearer y', ok: 1, deeper: { client_secret: 's' } } });
    expect(details).toEqual({ name: 'x', apiKey: REDACTED, nested: { password: REDACTED, Authorization: REDACTED, ok: 1, deeper: { client_secret: REDACTED } } });
  });

  it('bounds strings, collections and depth, drops NUL and undefined, and turns non-finite numbers into text', () => {
    const details = boundedDetails({ long: 'a'.repeat(2000), nul: 'a\u0000b', list: Array.from({ length: 80 }, (_, i) => i), gone: undefined, inf: Infinity, deep: { a: { b: { c: { d: 1 } } } } })!;
    expect((details.long as string).length).toBeLessThanOrEqual(513);
    expect(details.nul).toBe('ab');
    expect(details.list).toHaveLength(50);
    expect(details).not.toHaveProperty('gone');
    expect(details.inf).toBe('Infinity');
    expect(details.deep).toEqual({ a: { b: { c: '[…]' } } });
  });

  it('cuts text at a code point and leaves it well-formed (PostgreSQL refuses a lone surrogate)', () => {
    const cut = boundedText(`${'a'.repeat(511)}😀tail`, 512);
    expect(cut).toBe(`${'a'.repeat(511)}…`);
    expect(boundedText('x\uD800y')).toBe('x\uFFFDy');
    expect(boundedText('ok 😀')).toBe('ok 😀');
    expect(boundedText({ not: 'a string' } as unknown)).toBe('[object Object]');
  });

  it('leaves clean text as it is and makes any other text well-formed, without NUL (property)', async () => {
    const fc = (await import('fast-check')).default;
    const unit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit, maxLength: 40 })), fc.integer({ min: 2, max: 50 }), (text, max) => {
        const out = boundedText(text, max);
        expect(out).not.toMatch(/[\u0000\uD800-\uDFFF]/u);
        if (text.length <= max && !/[\u0000\uD800-\uDFFF]/u.test(text)) expect(out).toBe(text);
        else expect(out.length).toBeLessThanOrEqual(max + 1);
      }),
      { numRuns: 2000 },
    );
  });

  it('replaces details larger than the bound by a note of their size', () => {
    const big = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`field${i}`, 'x'.repeat(500)]));
    const details = boundedDetails(big)!;
    expect(details.truncated).toBe(true);
    expect(details.bytes).toBeGreaterThan(MAX_AUDIT_DETAILS_BYTES);
    expect(Buffer.byteLength(JSON.stringify(details))).toBeLessThanOrEqual(MAX_AUDIT_DETAILS_BYTES);
  });
});
