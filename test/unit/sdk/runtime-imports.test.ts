import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const SDK = new URL('../../../src/sdk/', import.meta.url);

/** What each SDK file loads when it runs: its imports and re-exports that are not `type`-only. */
function runtimeImports(source: string): string[] {
  const specifiers: string[] = [];
  for (const match of source.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s+'([^']+)'/gmsu)) specifiers.push(match[1]!);
  for (const match of source.matchAll(/^import\s+'([^']+)'/gmu)) specifiers.push(match[1]!);
  return specifiers;
}

describe('the SDK', () => {
  it('loads nothing of the server when it runs: its own files, cockatiel, the OpenTelemetry API and one constant of the domain', () => {
    const outside = new Set<string>();
    for (const file of readdirSync(SDK).filter((f) => f.endsWith('.ts'))) {
      for (const specifier of runtimeImports(readFileSync(new URL(file, SDK), 'utf8'))) if (!specifier.startsWith('./')) outside.add(specifier);
    }
    expect([...outside].sort()).toEqual(['../domain/plain.js', '@opentelemetry/api', 'cockatiel']);
  });

  it('reads an import as loaded unless it is type-only', () => {
    expect(runtimeImports("import type { A } from '../domain/index.js';\nimport { b, type C } from '../x.js';\nexport type { D } from '../y.js';\nexport { e } from '../z.js';\nimport '../side.js';\n")).toEqual(['../x.js', '../z.js', '../side.js']);
  });
});
