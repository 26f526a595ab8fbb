// The watchdog of one test process's servers: it reads "watch <pid>", "unwatch <pid>", "dir <path>"
// and "undir <path>" lines on stdin. When stdin ends (the test process exited, even by SIGKILL),
// it kills every watched process tree and removes every listed directory, then exits.
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { killTree } from './process-tree.mjs';

const pids = new Set();
const dirs = new Set();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [verb, ...rest] = line.trim().split(' ');
  const arg = rest.join(' ');
  if (verb === 'watch') pids.add(Number(arg));
  else if (verb === 'unwatch') pids.delete(Number(arg));
  else if (verb === 'dir') dirs.add(arg);
  else if (verb === 'undir') dirs.delete(arg);
});
lines.on('close', () => {
  for (const pid of pids) killTree(pid);
  // The killed servers may hold files a moment longer: try a few times.
  let tries = 0;
  const sweep = () => {
    for (const dir of dirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
        dirs.delete(dir);
      } catch {
        // try again
      }
    }
    if (dirs.size > 0 && ++tries < 20) setTimeout(sweep, 250);
    else process.exit(0);
  };
  setTimeout(sweep, 200);
});
