import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageRequest, TaskState, type Message, type Task as A2ATask } from '@a2a-js/sdk';
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory, RestTransportFactory, type Client } from '@a2a-js/sdk/client';
import { A2AError } from '@a2a-js/sdk/errors';
import type { DeliveredTask } from '../../domain/index.js';
import type { RemoteAgent, RemoteAgentClient, RemoteOutcome } from '../../application/ports.js';
import { DependencyPolicy } from '../resilience/dependency-policy.js';
import { ResilienceRegistry } from '../resilience/observer.js';
import { MAX_REMOTE_RESPONSE_BYTES, OutboundAddressGuard, OutboundAddressRefusedError, RemoteResponseTooLargeError } from './outbound-address-guard.js';
import { partOf, valueOfParts } from './parts.js';
import { PLAIN } from '../../domain/plain.js';

/** Longest one task may take at a remote agent, its polls included. */
export const REMOTE_CALL_TIMEOUT_MS = 600_000;
/** How often a remote task that answered before it ended is asked again. */
const POLL_MS = 500;
const TERMINAL = new Set([TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_REJECTED]);
const INTERRUPTED = new Set([TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED]);

/** What is kept for one remote agent: its policies, and a client made from its last card. */
interface Remote {
  url: string;
  cardPolicy: DependencyPolicy;
  callPolicy: DependencyPolicy;
  client: Client | undefined;
}

const key = (agent: Pick<RemoteAgent, 'tenantId' | 'id'>) => `${agent.tenantId}\u0000${agent.id}`;
const policyName = (agent: Pick<RemoteAgent, 'tenantId' | 'id'>) => `a2a:${agent.tenantId}/${agent.id}`;

/** A remote agent writes its own error text: the task keeps at most this much of it. */
const MAX_REMOTE_ERROR_CHARS = 1000;
const clip = (text: string) => (text.length > MAX_REMOTE_ERROR_CHARS ? `${text.slice(0, MAX_REMOTE_ERROR_CHARS)}…` : text);

const failed = (message: string, code: string, retryable: boolean, call: 'failed' | 'rejected' | 'unreachable'): RemoteOutcome => ({
  outcome: 'failed',
  error: { message: clip(message), code },
  retryable,
  call,
});

/** A remote task or message as the mesh's outcome. */
function outcomeOf(result: Message | A2ATask): RemoteOutcome {
  if ('messageId' in result) return { outcome: 'completed', output: valueOfParts(result.parts) };
  const state = result.status?.state;
  const said = result.status?.message ? valueOfParts(result.status.message.parts) : undefined;
  const why = typeof said === 'string' ? `: ${said}` : '';
  switch (state) {
    case TaskState.TASK_STATE_COMPLETED:
      return { outcome: 'completed', output: valueOfParts(result.artifacts.flatMap((a) => a.parts)) };
    case TaskState.TASK_STATE_REJECTED:
      return failed(`the remote agent rejected the task${why}`, 'rejected', false, 'rejected');
    case TaskState.TASK_STATE_CANCELED:
      return failed(`the remote agent canceled the task${why}`, 'remote_canceled', false, 'failed');
    case TaskState.TASK_STATE_FAILED:
      return failed(`the remote agent failed the task${why}`, 'remote_failed', true, 'failed');
    default:
      return failed(`the remote agent asks for more (${TaskState[state ?? TaskState.TASK_STATE_UNSPECIFIED]}): the mesh cannot answer it`, 'input_required', false, 'failed');
  }
}

/** The error, or one of its causes, of that class (fetch and the SDK wrap what the guard throws). */
function inCauses<E extends Error>(error: unknown, type: new (...args: never[]) => E): E | undefined {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) if (e instanceof type) return e;
  return undefined;
}

/** An error of the call itself: a refusal in A2A's words will be refused again; anything else may pass next time. */
function failureOf(error: unknown): RemoteOutcome {
  const refused = inCauses(error, OutboundAddressRefusedError);
  if (refused) return failed(`the mesh may not call this remote agent: ${refused.message}`, 'a2a_address_refused', false, 'failed');
  if (inCauses(error, RemoteResponseTooLargeError)) return failed(`the remote agent's answer is over ${MAX_REMOTE_RESPONSE_BYTES} bytes`, 'a2a_response_too_large', false, 'failed');
  if (error instanceof A2AError) return failed(`the remote agent refused the request: ${error.message}`, 'a2a_error', false, 'failed');
  return failed(`the remote agent could not be reached: ${(error as Error).message}`, 'a2a_unreachable', true, 'unreachable');
}

/**
 * Calls remote agents with the official A2A SDK's client: each agent's card is its heartbeat, and
 * each task goes as one message (its input as one part; the capability as metadata.skill), whose
 * answer, or the task it made once that ends, is the outcome. Every call goes through that
 * agent's own policies (the forExternalApi preset: a breaker on its failure rate, a timeout, a
 * bulkhead of its maxConcurrentTasks), so one slow or dead agent holds back nobody else. A
 * message is not sent again by the retry policy: the mesh's own retry of the task does that,
 * with backoff, attempts and dead letters.
 */
export class A2ARemoteAgentClient implements RemoteAgentClient {
  private readonly remotes = new Map<string, Remote>();
  private readonly factoryOptions: ClientFactoryOptions;
  private readonly guardedFetch: typeof fetch;

  /**
   * `registry`: per-agent policies log their transitions there; give one no metrics observe, their names being per agent.
   * `guard`: where the mesh may call (every request of the card resolver and of the transports goes through it).
   */
  constructor(
    private readonly registry: ResilienceRegistry = new ResilienceRegistry(),
    private readonly guard: OutboundAddressGuard = new OutboundAddressGuard(),
  ) {
    const fetchImpl = guard.fetch();
    this.guardedFetch = fetchImpl;
    this.factoryOptions = ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl }), new RestTransportFactory({ fetchImpl })],
    });
  }

  async probe(agent: RemoteAgent): Promise<void> {
    const remote = this.remoteOf(agent);
    const card = await remote.cardPolicy.execute((signal) => this.resolver(signal).resolve(agent.a2aUrl));
    remote.client = await this.factory().createFromAgentCard(card);
  }

  async execute(agent: RemoteAgent, task: DeliveredTask, signal: AbortSignal): Promise<RemoteOutcome> {
    const remote = this.remoteOf(agent);
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(REMOTE_CALL_TIMEOUT_MS)]);
    try {
      remote.client ??= await this.factory().createFromAgentCard(await remote.cardPolicy.execute((s) => this.resolver(s).resolve(agent.a2aUrl)));
      const client = remote.client;
      const request = SendMessageRequest.fromJSON({
        message: { messageId: `${task.id}:${task.attempt}`, role: 'ROLE_USER', metadata: { skill: task.capability, agentmeshTaskId: task.id, attempt: task.attempt } },
      });
      request.message!.parts = [partOf(task.input)];
      let result = await remote.callPolicy.execute((s) => client.sendMessage(request, { signal: AbortSignal.any([s, deadline]) }), { retry: false });
      // It answered before the task ended: ask again until it does.
      while (!('messageId' in result) && !TERMINAL.has(result.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED) && !INTERRUPTED.has(result.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED)) {
        await sleep(POLL_MS, undefined, { signal: deadline }).catch(() => undefined);
        if (deadline.aborted) return failed('the remote agent did not end the task in time', 'a2a_timeout', true, 'unreachable');
        const id = result.id;
        result = await remote.callPolicy.execute((s) => client.getTask({ tenant: '', id, historyLength: 0 }, { signal: AbortSignal.any([s, deadline]) }));
      }
      return outcomeOf(result);
    } catch (error) {
      // Its card may have changed: the next call resolves it again.
      remote.client = undefined;
      return failureOf(error);
    }
  }

  /** Closes the connections kept to remote agents (at shutdown). */
  close(): Promise<void> {
    return this.guard.close();
  }

  forget(agent: Pick<RemoteAgent, 'tenantId' | 'id'>): void {
    this.remotes.delete(key(agent));
    const name = policyName(agent);
    this.registry.remove(name);
    this.registry.remove(`${name}:card`);
  }

  private remoteOf(agent: RemoteAgent): Remote {
    const existing = this.remotes.get(key(agent));
    if (existing && existing.url === agent.a2aUrl) return existing;
    const name = policyName(agent);
    const remote: Remote = {
      url: agent.a2aUrl,
      cardPolicy: DependencyPolicy.preset('forExternalApi', `${name}:card`, this.registry, { bulkhead: { maxConcurrent: 1, maxQueue: 1 } }),
      callPolicy: DependencyPolicy.preset('forExternalApi', name, this.registry, {
        bulkhead: { maxConcurrent: agent.maxConcurrentTasks, maxQueue: agent.maxConcurrentTasks },
        timeoutMs: REMOTE_CALL_TIMEOUT_MS,
      }),
      client: undefined,
    };
    this.remotes.set(key(agent), remote);
    return remote;
  }

  private resolver(signal: AbortSignal): DefaultAgentCardResolver {
    return new DefaultAgentCardResolver({ fetchImpl: (input, init) => this.guardedFetch(input, { ...PLAIN, ...init, signal }) });
  }

  private factory(): ClientFactory {
    return new ClientFactory(this.factoryOptions);
  }
}

