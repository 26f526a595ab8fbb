// Plain JavaScript, so that the reaper (a bare `node` process) and the TypeScript tests share it.
import { readdirSync, readFileSync } from 'node:fs';

/** The parent pid of every live process, from /proc (Linux). */
function parents() {
  const byPid = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/u.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      byPid.set(Number(entry), ppid);
    } catch {
      // it exited while we looked
    }
  }
  return byPid;
}

/** The pids of every descendant of `pid` (children, their children...). */
export function descendantPids(pid) {
  const byPid = parents();
  const found = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const parent = frontier.pop();
    for (const [child, ppid] of byPid) {
      if (ppid === parent && !found.includes(child)) {
        found.push(child);
        frontier.push(child);
      }
    }
  }
  return found;
}

/** Running (a zombie, dead but not yet reaped, does not count). */
export function isAlive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

/** SIGKILL to `pid` and all its descendants at once (listed first: once the parent dies they are re-parented). */
export function killTree(pid) {
  const pids = [pid, ...descendantPids(pid)];
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids;
}
