export function descendantPids(pid: number): number[];
export function isAlive(pid: number): boolean;
/** SIGKILL to `pid` and all its descendants; returns the pids signalled. */
export function killTree(pid: number): number[];
