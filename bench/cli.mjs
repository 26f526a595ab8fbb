// The CLI's start-up: `agentmesh --version` and a usage error, against a bare `node -e 0` in the
// same run. A client command loads the SDK and the argument parser, never the mesh, its store or its API.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../dist/presentation/cli/main.js', import.meta.url));

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function timed(args) {
  const started = performance.now();
  try {
    execFileSync(process.execPath, args, { stdio: 'ignore' });
  } catch {
    // A usage error exits 2: its time is what is measured.
  }
  return performance.now() - started;
}

/** Median wall time of each, in ms, over `runs` alternating runs. */
export function measureCliStart({ runs = 9 } = {}) {
  const bare = [];
  const version = [];
  const usageError = [];
  for (let i = 0; i < runs; i++) {
    bare.push(timed(['-e', '0']));
    version.push(timed([CLI, '--version']));
    usageError.push(timed([CLI, 'tasks', 'submit', '']));
  }
  return { bareMs: median(bare), versionMs: median(version), usageErrorMs: median(usageError) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(measureCliStart());
