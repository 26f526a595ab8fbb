import { describe, expect, it } from 'vitest';
import { parseTraceContext } from '../../../src/domain/index.js';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('parseTraceContext', () => {
  it('takes a valid traceparent, with its tracestate', () => {
    expect(parseTraceContext(VALID, undefined)).toEqual({ traceparent: VALID });
    expect(parseTraceContext(` ${VALID} `, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7')).toEqual({ traceparent: VALID, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' });
    // A later version may carry more fields.
    expect(parseTraceContext(`01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra`, undefined)).toBeDefined();
  });

  it.each([
    ['missing', undefined],
    ['not a string', ['a']],
    ['upper case', VALID.toUpperCase()],
    ['version ff', `ff${VALID.slice(2)}`],
    ['all-zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['all-zero parent id', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'],
    ['short trace id', '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01'],
    ['version 00 with extra fields', `${VALID}-extra`],
  ])('ignores a traceparent that is %s, as the specification asks', (_, raw) => {
    expect(parseTraceContext(raw, 'k=v')).toBeUndefined();
  });

  it('drops a tracestate that is too long or not printable, keeping the traceparent', () => {
    expect(parseTraceContext(VALID, 'k='.padEnd(513, 'v'))).toEqual({ traceparent: VALID });
    expect(parseTraceContext(VALID, 'k=v\u0000')).toEqual({ traceparent: VALID });
    expect(parseTraceContext(VALID, '')).toEqual({ traceparent: VALID });
  });
});
