import { Counter, Gauge, Registry } from 'prom-client';
import type { BreakerState, ResilienceRegistry } from '../resilience/observer.js';

/** A breaker's state as a number a dashboard can colour: 0 closed, 1 open, 2 half-open (probing), 3 held open by hand. */
export const BREAKER_STATE_VALUES: Readonly<Record<BreakerState, number>> = { closed: 0, open: 1, 'half-open': 2, isolated: 3 };

/**
 * The policies' metrics: states and bulkhead occupancy read at each scrape, transitions,
 * retries, rejections and timeouts counted as they happen. The `policy` label is a dependency's
 * name (database, message_broker, redis): a few, fixed by the code.
 */
export function observeResilience(registry: Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>, resilience: ResilienceRegistry): void {
  const registers = [registry];
  new Gauge({
    name: 'agentmesh_circuit_breaker_state',
    help: 'Each circuit breaker: 0 closed, 1 open (calls fail fast), 2 half-open (one probe runs), 3 held open by hand',
    labelNames: ['policy'],
    registers,
    collect() {
      for (const b of resilience.breakerStates()) this.set({ policy: b.name }, BREAKER_STATE_VALUES[b.state]);
    },
  });
  const bulkheadGauge = (name: string, help: string, read: (b: ReturnType<ResilienceRegistry['bulkheadStates']>[number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['policy'],
      registers,
      collect() {
        for (const b of resilience.bulkheadStates()) this.set({ policy: b.name }, read(b));
      },
    });
  bulkheadGauge('agentmesh_bulkhead_active', 'Calls running inside each bulkhead (at most its max_concurrent)', (b) => b.activeCalls);
  bulkheadGauge('agentmesh_bulkhead_queued', 'Calls waiting for a slot in each bulkhead (bounded; full means 503)', (b) => b.queueSize);
  bulkheadGauge('agentmesh_bulkhead_max_concurrent', 'Each bulkhead’s bound on concurrent calls', (b) => b.maxConcurrent);
  const transitions = new Counter({ name: 'agentmesh_circuit_breaker_transitions_total', help: 'Circuit breaker state changes, by the state entered', labelNames: ['policy', 'to'], registers });
  const retries = new Counter({ name: 'agentmesh_retry_attempts_total', help: 'Calls tried again after a transient failure', labelNames: ['policy'], registers });
  const rejected = new Counter({ name: 'agentmesh_bulkhead_rejected_total', help: 'Calls refused because a bulkhead and its queue were full', labelNames: ['policy'], registers });
  const timeouts = new Counter({ name: 'agentmesh_policy_timeouts_total', help: 'Calls that ran past their time budget', labelNames: ['policy'], registers });
  resilience.listen({
    breakerTransition: (policy, _from, to) => transitions.inc({ policy, to }),
    retried: (policy) => retries.inc({ policy }),
    bulkheadRejected: (policy) => rejected.inc({ policy }),
    timedOut: (policy) => timeouts.inc({ policy }),
  });
}
