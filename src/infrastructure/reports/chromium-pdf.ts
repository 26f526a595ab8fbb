import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class ChromiumMissingError extends Error {
  constructor(path: string) {
    super(`PDF reports are printed by Chromium, and there is none at ${path}: install it (Debian: apt-get install chromium) or set AGENTMESH_CHROMIUM_PATH`);
    this.name = 'ChromiumMissingError';
  }
}

/** Where Chromium is: AGENTMESH_CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export function chromiumPath(env: Record<string, string | undefined> = process.env): string {
  return env.AGENTMESH_CHROMIUM_PATH || '/usr/bin/chromium';
}

/**
 * Prints a self-contained HTML page to PDF with headless Chromium, offline: a fresh profile, no
 * background networking (the page loads nothing from outside anyway).
 */
export async function htmlToPdf(html: string, chromium = chromiumPath()): Promise<Buffer> {
  if (!existsSync(chromium)) throw new ChromiumMissingError(chromium);
  const dir = mkdtempSync(join(tmpdir(), 'agentmesh-report-'));
  try {
    const page = join(dir, 'report.html');
    const pdf = join(dir, 'report.pdf');
    writeFileSync(page, html);
    await run(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${join(dir, 'profile')}`,
        '--no-pdf-header-footer',
        `--print-to-pdf=${pdf}`,
        `file://${page}`,
      ],
      { timeout: 60_000 },
    );
    return readFileSync(pdf);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
