import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractTar } from '../../../src/infrastructure/persistence/extract-tar.js';
import { pgliteTemplateFile } from '../../../src/infrastructure/persistence/pglite-template.js';
import { fastScratchDir } from '../../support/scratch.js';

/** One ustar entry, as PGlite's dump writes them: a header block, then the data padded to blocks. */
function entry(name: string, data: Uint8Array, type = '0', corrupt = false, sizeField = `${data.length.toString(8).padStart(11, '0')}\0`): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000600\0', 100);
  header.write(sizeField, 124);
  header.write(type, 156);
  header.write('ustar\0', 257);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${(corrupt ? sum + 1 : sum).toString(8).padStart(6, '0')}\0 `, 148);
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  padded.set(data);
  return Buffer.concat([header, padded]);
}
const END = Buffer.alloc(1024);
const text = (s: string) => Buffer.from(s);

describe('extractTar', () => {
  const scratch = fastScratchDir('agentmesh-tar-');
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  let n = 0;
  const fresh = () => join(scratch, `x${n++}`);

  it('writes directories and files (owner-only), names absolute or not, and a file whose pages of zeros are holes reads back whole', () => {
    const pages = Buffer.alloc(8192 * 4);
    pages.write('first page', 0);
    pages.write('last page', 8192 * 3 + 100);
    const odd = Buffer.alloc(8192 + 10, 0);
    const into = fresh();
    extractTar(Buffer.concat([entry('/base', Buffer.alloc(0), '5'), entry('/base/1', text('one')), entry('deep/er/2', pages), entry('/odd', odd), entry('/empty', Buffer.alloc(0)), END]), into);
    expect(readFileSync(join(into, 'base/1'), 'utf8')).toBe('one');
    expect(readFileSync(join(into, 'deep/er/2')).equals(pages)).toBe(true);
    expect(readFileSync(join(into, 'odd')).equals(odd)).toBe(true);
    expect(statSync(join(into, 'empty')).size).toBe(0);
    expect(statSync(join(into, 'base/1')).mode & 0o777).toBe(0o600);
    expect(statSync(join(into, 'deep')).mode & 0o777).toBe(0o700);
    // The two pages of zeros in the middle were not written.
    expect(statSync(join(into, 'deep/er/2')).blocks * 512).toBeLessThan(pages.length);
  });

  it("writes the build's template as GNU tar reads it: every entry, every byte", () => {
    const into = fresh();
    const archive = readFileSync(pgliteTemplateFile());
    extractTar(archive, into);
    const listed = execFileSync('tar', ['-tf', pgliteTemplateFile()], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.replace(/^\/+/u, '').replace(/\/$/u, ''))
      .sort();
    const written = readdirSync(into, { recursive: true }).map(String).sort();
    expect(written).toEqual(listed);
    const gnu = join(scratch, 'gnu');
    mkdirSync(gnu);
    execFileSync('tar', ['-xf', pgliteTemplateFile(), '-C', gnu], { stdio: 'ignore' });
    for (const name of written) {
      if (statSync(join(into, name)).isDirectory()) continue;
      expect(readFileSync(join(into, name)).equals(readFileSync(join(gnu, name))), name).toBe(true);
    }
  });

  it('refuses an archive it cannot vouch for: a bad checksum, one cut short, no end marker, a link, a name that leaves the directory', () => {
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.concat([entry('/a', text('x'), '0', true), END]), /bad header checksum/u],
      [entry('/a', Buffer.alloc(2000)).subarray(0, 1024), /cut short in '\/a'/u],
      [entry('/a', text('x')), /ends without its end marker/u],
      [Buffer.concat([entry('/link', Buffer.alloc(0), '2'), END]), /'\/link' is of type '2'/u],
      [Buffer.concat([entry('../escaped', text('x')), END]), /'..\/escaped' is outside the directory/u],
      [Buffer.concat([entry('/a/../../escaped', text('x')), END]), /outside the directory/u],
    ];
    for (const [archive, error] of cases) expect(() => extractTar(archive, fresh()), String(error)).toThrow(error);
    expect(existsSync(join(scratch, 'escaped'))).toBe(false);
  });

  it('writes `writeLast` only once the rest is whole: an archive cut short after it leaves it unwritten', () => {
    const marker = entry('/PG_VERSION', text('17'));
    const whole = fresh();
    extractTar(Buffer.concat([marker, entry('/base/1', text('one')), END]), whole, 'PG_VERSION');
    expect(readFileSync(join(whole, 'PG_VERSION'), 'utf8')).toBe('17');
    const cut = fresh();
    expect(() => extractTar(Buffer.concat([marker, entry('/base/1', Buffer.alloc(4096))]).subarray(0, 1536), cut, 'PG_VERSION')).toThrow(/cut short/u);
    expect(existsSync(join(cut, 'PG_VERSION'))).toBe(false);
  });

  it('a header whose number fields are not octal is refused, not read as zero', () => {
    const bad = entry('/a', text('x'), '0', false, '0000000001z\0');
    expect(() => extractTar(Buffer.concat([bad, END]), fresh())).toThrow(/not an octal number/u);
  });
});
