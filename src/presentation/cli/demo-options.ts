import { UsageError } from './usage-error.js';

// Apart from demo.ts, so that a bad flag is refused before the mesh is loaded.
export interface DemoOptions {
  tasks: number;
  agentsPerCapability: number;
  progress: boolean;
}

export function parseDemoOptions(flags: { tasks: string; agents: string; progress: boolean }): DemoOptions {
  const tasks = Number(flags.tasks);
  const agents = Number(flags.agents);
  if (!Number.isInteger(tasks) || tasks < 100 || tasks > 100_000) throw new UsageError(`--tasks must be an integer from 100 to 100000, got '${flags.tasks}'`);
  if (!Number.isInteger(agents) || agents < 2 || agents > 32) throw new UsageError(`--agents must be an integer from 2 to 32, got '${flags.agents}'`);
  return { tasks, agentsPerCapability: agents, progress: flags.progress };
}
