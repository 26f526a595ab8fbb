// One SDK agent in a process of its own, so that a test can kill -9 it while it holds leases.
// Settings come as JSON in AGENTMESH_CHAOS_AGENT; it reports on stdout, one JSON object a line:
// {"event":"ready"}, {"event":"run","task":id,"attempt":n} when a handler starts, {"event":"done",...} when it returns,
// {"event":"error","message":...} for each failed call to the mesh.
import { Agent, AgentMeshError } from '../../../dist/sdk/index.js';

const o = JSON.parse(process.env.AGENTMESH_CHAOS_AGENT);
const say = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function makeAgent() {
  return new Agent({
    url: o.url,
    apiKey: o.apiKey,
    id: o.id,
    name: o.id,
    capabilities: [o.capability],
    transport: o.transport,
    maxConcurrentTasks: o.maxConcurrentTasks,
    heartbeatIntervalMs: o.heartbeatIntervalMs,
    // The mesh's dependencies die under it in these tests: failed calls are expected and retried; the test counts them.
    onError: (error) => say({ event: 'error', message: String(error?.message ?? error) }),
  }).handle(o.capability, async (input, { task }) => {
    say({ event: 'run', task: task.id, attempt: task.attempt });
    await sleep(o.workMs);
    say({ event: 'done', task: task.id, attempt: task.attempt });
    if (input.doomed) throw new Error('doomed by the test: this task always fails');
    return { n: input.n, by: o.id };
  });
}

// A restarted agent registers under its old id: the mesh answers 409 until it has marked the
// killed one unhealthy (a heartbeat timeout later). Like a supervised agent, try again meanwhile;
// a mesh instance that is down or failing counts the same.
let agent;
for (const until = Date.now() + o.registerForMs; ; ) {
  agent = makeAgent();
  try {
    await agent.start();
    break;
  } catch (error) {
    const again = !(error instanceof AgentMeshError) || error.retryable || error.status === 409;
    if (!again || Date.now() > until) {
      process.stderr.write(`agent ${o.id} could not register: ${error.message}\n`);
      process.exit(1);
    }
    say({ event: 'error', message: `register: ${error.message}` });
    await sleep(250);
  }
}
say({ event: 'ready' });
process.on('SIGTERM', () => void agent.stop({ graceMs: 2_000 }).finally(() => process.exit(0)));
