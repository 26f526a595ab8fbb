// The resilience budget: each policy's cost per call against bare cockatiel and against a plain
// call (tinybench, same run; the facade's timeout is its own, the bare one cockatiel's), and end-to-end tasks/s on PostgreSQL + NATS + Redis with every
// dependency policy on against the same run with them off (AGENTMESH_DEPENDENCY_POLICIES=off).
import { bulkhead, circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, fullJitterGenerator, handleAll, retry, timeout, TimeoutStrategy, wrap } from 'cockatiel';
import pino from 'pino';
import { Bench } from 'tinybench';
import { BulkheadIsolation } from '../dist/infrastructure/resilience/bulkhead.js';
import { CircuitBreaker } from '../dist/infrastructure/resilience/circuit-breaker.js';
import { DependencyPolicy } from '../dist/infrastructure/resilience/dependency-policy.js';
import { RetryPolicy } from '../dist/infrastructure/resilience/retry-policy.js';
import { TimeoutPolicy } from '../dist/infrastructure/resilience/timeout-policy.js';
import { ResilienceRegistry } from '../dist/infrastructure/resilience/observer.js';
import { measurePeak } from './e2e-threads.mjs';
import { REDIS_URL } from './cluster.mjs';
import { dropStreams, natsReachable, NATS_URL } from './jetstream-baseline.mjs';
import { withScratchDatabase } from './postgres-scratch.mjs';

const micros = (task) => task.result.latency.mean * 1000;

/** µs per call: plain async call, bare cockatiel, the facade; for each policy and for all four composed. */
export async function measurePolicyCosts() {
  const registry = new ResilienceRegistry();
  const work = async () => 1;
  const bare = {
    breaker: circuitBreaker(handleAll, { breaker: new ConsecutiveBreaker(5), halfOpenAfter: 5_000 }),
    retry: retry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff({ generator: fullJitterGenerator, initialDelay: 50, maxDelay: 1_000 }) }),
    bulkhead: bulkhead(20, 2_000),
    timeout: timeout(30_000, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false }),
  };
  bare.all = wrap(bare.bulkhead, bare.retry, bare.breaker, bare.timeout);
  const facade = {
    breaker: CircuitBreaker.forDatabase({}, registry),
    retry: RetryPolicy.forDatabase({}, registry),
    bulkhead: BulkheadIsolation.forDatabase({ name: 'bench_bulkhead' }, registry),
    timeout: new TimeoutPolicy('bench_timeout', 30_000, registry),
    all: DependencyPolicy.preset('forDatabase', 'bench_all', registry),
  };
  const bench = new Bench({ time: 400 });
  bench.add('plain', () => work());
  for (const name of ['breaker', 'retry', 'bulkhead', 'timeout', 'all']) {
    bench.add(`bare ${name}`, () => bare[name].execute(work));
    const policy = facade[name];
    const run = name === 'breaker' ? () => policy.call(work) : () => policy.execute(work);
    bench.add(`facade ${name}`, run);
  }
  await bench.run();
  const byName = Object.fromEntries(bench.tasks.map((t) => [t.name, micros(t)]));
  const result = { plain: byName.plain };
  for (const name of ['breaker', 'retry', 'bulkhead', 'timeout', 'all']) result[name] = { bare: byName[`bare ${name}`], facade: byName[`facade ${name}`] };
  return result;
}

/** End to end on the production backends, policies on and off, alternating rounds. */
export async function measurePoliciesEndToEnd({ total = 10_000, rounds = 2 } = {}) {
  if (!(await natsReachable())) return undefined;
  const runs = { on: [], off: [] };
  await withScratchDatabase(async (url) => {
    for (let round = 0; round < rounds; round++) {
      for (const mode of ['on', 'off']) {
        const namespace = `bench_resilience_${process.pid}_${round}_${mode}`;
        const env = { AGENTMESH_DATABASE_URL: url, AGENTMESH_NATS_URL: NATS_URL, AGENTMESH_NATS_NAMESPACE: namespace, AGENTMESH_REDIS_URL: REDIS_URL, AGENTMESH_REDIS_PREFIX: namespace, AGENTMESH_DEPENDENCY_POLICIES: mode };
        try {
          runs[mode].push((await measurePeak({ total, env, logger: pino({ level: 'silent' }) })).tasksPerSecond);
        } finally {
          await dropStreams(namespace);
        }
      }
    }
  });
  const best = (xs) => Math.max(...xs);
  return { on: best(runs.on), off: best(runs.off), ratio: best(runs.on) / best(runs.off), runs };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const f = (n, d = 2) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const costs = await measurePolicyCosts();
  console.log(`plain async call: ${f(costs.plain, 3)} µs`);
  for (const name of ['breaker', 'retry', 'bulkhead', 'timeout', 'all']) {
    const c = costs[name];
    console.log(`${name.padEnd(9)} facade ${f(c.facade, 3)} µs, bare cockatiel ${f(c.bare, 3)} µs: ${f(c.facade / c.bare)}x cockatiel; over a plain call +${f(c.facade - costs.plain, 3)} µs`);
  }
  const e2e = await measurePoliciesEndToEnd({ total: process.argv.includes('--quick') ? 4_000 : 10_000 });
  if (e2e) console.log(`end to end on PostgreSQL + NATS + Redis: ${f(e2e.on, 0)} tasks/s with the policies, ${f(e2e.off, 0)} without: ratio ${f(e2e.ratio)} (runs ${JSON.stringify(e2e.runs.on.map(Math.round))} / ${JSON.stringify(e2e.runs.off.map(Math.round))})`);
  else console.log('end to end: skipped, NATS is not reachable');
}
