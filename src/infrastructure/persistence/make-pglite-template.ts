// Run by `npm run build`: the initialised PGlite data directory that new embedded databases load (see pglite-template.ts).
import { makePgliteTemplate } from './pglite-template.js';

const started = performance.now();
const file = await makePgliteTemplate();
process.stdout.write(`PGlite template: ${file} (${Math.round(performance.now() - started)} ms)\n`);
