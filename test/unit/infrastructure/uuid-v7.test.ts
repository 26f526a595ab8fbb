import { describe, expect, it } from 'vitest';
import { UuidV7Generator, uuidV7Floor } from '../../../src/infrastructure/system/uuid-v7.js';

describe('UuidV7Generator', () => {
  it('makes unique RFC 9562 version-7 ids that sort in creation order', () => {
    const g = new UuidV7Generator();
    const ids = Array.from({ length: 20_000 }, () => g.newId());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids.slice(0, 100)) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('carries the creation millisecond, and uuidV7Floor bounds ids by time', () => {
    const before = Date.now();
    const id = new UuidV7Generator().newId();
    const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now());
    expect(uuidV7Floor(before) <= id).toBe(true);
    expect(uuidV7Floor(Date.now() + 1) > id).toBe(true);
  });
});
