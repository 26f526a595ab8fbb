import { describe, expect, it } from 'vitest';
import { assertSecretName, assertSecretValue, PayloadTooLargeError, policyAllows, secretPolicy, submitTask, ValidationError } from '../../../src/domain/index.js';

describe('secrets in the domain', () => {
  it('names: 1-128 characters of [A-Za-z0-9._-]', () => {
    for (const ok of ['a', 'github-token', 'AWS_KEY.v2', 'x'.repeat(128)]) expect(() => assertSecretName(ok)).not.toThrow();
    for (const bad of ['', 'has space', 'slash/ed', 'x'.repeat(129), 'ünïcode']) expect(() => assertSecretName(bad)).toThrow(ValidationError);
  });

  it('values: not empty, at most 64 KiB of UTF-8', () => {
    expect(() => assertSecretValue('')).toThrow(ValidationError);
    expect(() => assertSecretValue('é'.repeat(32 * 1024))).not.toThrow();
    expect(() => assertSecretValue('é'.repeat(32 * 1024 + 1))).toThrow(PayloadTooLargeError);
  });

  it("policies: capability names, sorted and unique; '*' alone allows every capability", () => {
    expect(secretPolicy(['b', 'a', 'b'])).toEqual({ capabilities: ['a', 'b'] });
    expect(secretPolicy(['deploy', '*'])).toEqual({ capabilities: ['*'] });
    expect(() => secretPolicy([])).toThrow(/at least one/u);
    expect(() => secretPolicy(['no spaces'])).toThrow(/policy\.capabilities\[0\]/u);
    expect(policyAllows({ capabilities: ['deploy'] }, 'deploy')).toBe(true);
    expect(policyAllows({ capabilities: ['deploy'] }, 'lint')).toBe(false);
    expect(policyAllows({ capabilities: ['*'] }, 'lint')).toBe(true);
  });

  it('a task names at most 16 secrets, each valid, repeats dropped', () => {
    const base = { id: 't', tenantId: 'acme', capability: 'deploy' };
    expect(submitTask({ ...base, secrets: ['a', 'b', 'a'] }, 1).task.secrets).toEqual(['a', 'b']);
    expect(submitTask({ ...base, secrets: [] }, 1).task.secrets).toBeUndefined();
    expect(submitTask(base, 1).task.secrets).toBeUndefined();
    expect(() => submitTask({ ...base, secrets: ['bad name'] }, 1)).toThrow(/secrets\[0\]/u);
    expect(() => submitTask({ ...base, secrets: Array.from({ length: 17 }, (_, i) => `s${i}`) }, 1)).toThrow(/at most 16/u);
  });
});
