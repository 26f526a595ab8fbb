import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PLAIN } from '../../../src/domain/index.js';

const SOURCES = join(import.meta.dirname, '../../../src');

/** Object literals that start with a spread other than PLAIN and have more members: `{ ...a, b }`, `{ ...a, ...c }`. */
function copiesThatAddFields(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isObjectLiteralExpression(node) && node.properties.length > 1) {
      const first = node.properties[0]!;
      if (ts.isSpreadAssignment(first) && !(ts.isIdentifier(first.expression) && first.expression.text === 'PLAIN')) {
        const { line } = source.getLineAndCharacterOfPosition(first.getStart());
        found.push(`${file}:${line + 1}: ${node.getText().replace(/\s+/g, ' ').slice(0, 100)}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('object literals that copy an object and add fields', () => {
  it('start with ...PLAIN everywhere in src/ (Node 20 gives each other such copy a hidden class of its own)', () => {
    const files = readdirSync(SOURCES, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'));
    expect(files.length).toBeGreaterThan(100);
    const offenders = files.flatMap((name) => copiesThatAddFields(name, readFileSync(join(SOURCES, name), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('the check finds the literals it is about, and only those', () => {
    const text = `
      const a = { ...x, b: 1 };
      const c = { ...x, ...y };
      const d = { ...PLAIN, ...x, b: 1 };
      const e = { ...x };
      const f = { b: 1, ...x };
      const g = f({ nested: { ...x, ...(cond && { h: 2 }) } });`;
    expect(copiesThatAddFields('sample.ts', text).map((line) => line.split(': ')[0])).toEqual(['sample.ts:2', 'sample.ts:3', 'sample.ts:7']);
  });

  it('PLAIN adds nothing to a copy and cannot be changed', () => {
    const task = { id: 't', status: 'queued' as string };
    const copy = { ...PLAIN, ...task, status: 'assigned', attempts: 1 };
    expect(copy).toEqual({ id: 't', status: 'assigned', attempts: 1 });
    expect(Object.keys(copy)).toEqual(['id', 'status', 'attempts']);
    expect(Object.isFrozen(PLAIN)).toBe(true);
    expect(Object.keys(PLAIN)).toEqual([]);
  });
});
