// The README's tour through a client generated from /openapi.json (openapi-typescript + openapi-fetch).
// The test generates ./api.d.ts next to this file, type-checks this file against it (strict), then runs it.
import createClient from 'openapi-fetch';
import type { paths } from './api.js';

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`tour: ${what}`);
}

export async function tour(baseUrl: string, adminKey: string): Promise<string[]> {
  const steps: string[] = [];
  const admin = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${adminKey}` } });

  const live = await admin.GET('/health/live');
  check(live.response.status === 200, 'liveness');
  steps.push('health');

  const agent = await admin.POST('/v1/agents', { body: { id: 'summarizer-1', name: 'Summarizer 1', capabilities: [{ name: 'summarize', proficiency: 4 }], maxConcurrentTasks: 2 } });
  check(agent.data?.status === 'available', `register: ${JSON.stringify(agent.error)}`);
  steps.push('register');

  const submitted = await admin.POST('/v1/tasks', { body: { capability: 'summarize', input: { text: 'AgentMesh routes tasks to agents.' }, priority: 7 } });
  check(submitted.response.status === 202 && submitted.data !== undefined, 'submit');
  const taskId: string = submitted.data.id;
  steps.push('submit');

  const next = await admin.GET('/v1/agents/{id}/tasks/next', { params: { path: { id: 'summarizer-1' }, query: { waitMs: 5000 } } });
  check(next.data?.id === taskId, 'next task');
  const attempt: number = next.data.attempt;
  check(attempt === 1, 'first attempt');
  steps.push('receive');

  const completed = await admin.POST('/v1/tasks/{id}/complete', { params: { path: { id: taskId } }, body: { agentId: 'summarizer-1', output: { summary: 'Tasks go to agents.' } } });
  check(completed.data?.status === 'completed', 'complete');
  const read = await admin.GET('/v1/tasks/{id}', { params: { path: { id: taskId }, query: { waitMs: 1000 } } });
  check(read.data?.status === 'completed' && JSON.stringify(read.data.output) === '{"summary":"Tasks go to agents."}', 'read the result');
  steps.push('complete');

  // A second completion by another agent is refused as problem+json, typed as such.
  const late = await admin.POST('/v1/tasks/{id}/complete', { params: { path: { id: taskId } }, body: { agentId: 'someone-else', output: 'too late' } });
  check(late.response.status === 409 && late.error?.type === 'https://agentmesh.dev/problems/lease_not_held', `late completion: ${JSON.stringify(late.error)}`);
  steps.push('conflict');

  // Failures are retried, then dead-lettered, and can be requeued.
  const doomed = await admin.POST('/v1/tasks', { body: { capability: 'summarize', input: { text: 'x' }, maxAttempts: 1 } });
  check(doomed.data !== undefined, 'submit doomed');
  const taken = await admin.GET('/v1/agents/{id}/tasks/next', { params: { path: { id: 'summarizer-1' }, query: { waitMs: 5000 } } });
  check(taken.data?.id === doomed.data.id, 'take doomed');
  const failed = await admin.POST('/v1/tasks/{id}/fail', { params: { path: { id: doomed.data.id } }, body: { agentId: 'summarizer-1', error: { message: 'model timed out', code: 'timeout' } } });
  check(failed.data?.status === 'dead_lettered', `fail: ${failed.data?.status}`);
  const letters = await admin.GET('/v1/dead-letters');
  check(letters.data?.items.some((t) => t.id === doomed.data.id) === true, 'dead letters');
  const requeued = await admin.POST('/v1/dead-letters/{id}/requeue', { params: { path: { id: doomed.data.id } } });
  check(requeued.data?.status === 'queued', 'requeue');
  steps.push('dead letters');

  // Tenants and keys: a new tenant's admin makes an agent key, which may not submit.
  const tenant = await admin.POST('/v1/tenants', { body: { id: 'acme', name: 'Acme Corp', quotas: { maxAgents: 10, maxTasksPerHour: 1000 } } });
  check(tenant.response.status === 201 && tenant.data !== undefined, 'create tenant');
  const acme = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${tenant.data.apiKey.key}` } });
  const agentKey = await acme.POST('/v1/api-keys', { body: { name: 'summarizer 1', role: 'agent', agentId: 'summarizer-1' } });
  check(agentKey.data?.key !== undefined, 'agent key');
  const asAgent = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${agentKey.data.key}` } });
  const refused = await asAgent.POST('/v1/tasks', { body: { capability: 'summarize' } });
  check(refused.response.status === 403 && refused.error?.detail === "role 'agent' may not submit tasks", 'agent may not submit');
  const hidden = await acme.GET('/v1/tasks/{id}', { params: { path: { id: taskId } } });
  check(hidden.response.status === 404, "another tenant's task is not found");
  const audit = await acme.GET('/v1/audit', { params: { query: { limit: 10 } } });
  check(audit.data?.items.some((e) => e.action === 'UNAUTHORIZED_ACCESS') === true, 'audit');
  const verified = await acme.GET('/v1/audit/verify');
  check(verified.data?.intact === true, 'verify');
  steps.push('tenants and keys');

  // Secrets for agents.
  const secret = await acme.PUT('/v1/secrets/{name}', { params: { path: { name: 'github-token' } }, body: { value: 'ghp_example', policy: { capabilities: ['review'] } } });
  check(secret.response.status === 201 && secret.data?.currentVersion === 1, 'put secret');
  await asAgent.POST('/v1/agents', { body: { name: 'Reviewer', capabilities: [{ name: 'review' }] } });
  const review = await acme.POST('/v1/tasks', { body: { capability: 'review', secrets: ['github-token'], leaseMs: 60_000 } });
  check(review.data !== undefined, 'submit review');
  const delivered = await asAgent.GET('/v1/agents/{id}/tasks/next', { params: { path: { id: 'summarizer-1' }, query: { waitMs: 5000 } } });
  check(delivered.data?.secrets?.[0] === 'github-token', 'delivered with its secrets');
  const value = await asAgent.GET('/v1/tasks/{id}/secrets/{name}', { params: { path: { id: review.data.id, name: 'github-token' } } });
  check(value.data?.value === 'ghp_example', 'read the secret');
  steps.push('secrets');
  return steps;
}
