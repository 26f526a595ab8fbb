import { SendMessageRequest, TaskState } from '@a2a-js/sdk';
import { ContentTypeNotSupportedError, RequestMalformedError, UnsupportedOperationError } from '@a2a-js/sdk/errors';
import { describe, expect, it } from 'vitest';
import type { Task, TaskStatus } from '../../../src/domain/index.js';
import { submitRequestOf } from '../../../src/presentation/a2a/message-input.js';
import { withKeepalive } from '../../../src/presentation/a2a/keepalive.js';
import { a2aStateOf, toA2ATask } from '../../../src/presentation/a2a/task-mapping.js';

const send = (message: Record<string, unknown>, metadata?: Record<string, unknown>) =>
  SendMessageRequest.fromJSON({ message: { messageId: 'm-1', role: 'ROLE_USER', ...message }, ...(metadata && { metadata }) });
const skills = (...names: string[]) => async () => names;

function task(status: TaskStatus, extra: Partial<Task> = {}): Task {
  return {
    id: 't-1', tenantId: 'acme', capability: 'echo', input: null, priority: 5, routing: { strategy: 'round_robin' }, maxAttempts: 3, leaseMs: 30_000,
    status, attempts: 0, availableAt: 0, createdAt: 0, updatedAt: 1_000, version: 1, ...extra,
  };
}

describe('A2A task states from mesh statuses', () => {
  it.each([
    ['queued', {}, TaskState.TASK_STATE_SUBMITTED],
    ['queued', { attempts: 1 }, TaskState.TASK_STATE_WORKING],
    ['assigned', { attempts: 1 }, TaskState.TASK_STATE_WORKING],
    ['running', { attempts: 1 }, TaskState.TASK_STATE_WORKING],
    ['completed', {}, TaskState.TASK_STATE_COMPLETED],
    ['failed', { error: { message: 'boom' } }, TaskState.TASK_STATE_FAILED],
    ['failed', { error: { message: 'no', code: 'rejected' } }, TaskState.TASK_STATE_REJECTED],
    ['dead_lettered', { error: { message: 'gave up' } }, TaskState.TASK_STATE_FAILED],
    ['canceled', {}, TaskState.TASK_STATE_CANCELED],
  ] as const)('%s %j is %s', (status, extra, state) => {
    expect(a2aStateOf(task(status, extra))).toBe(state);
  });

  it('gives a completed output as one artifact (text for a string, data otherwise), and an error as the status message', () => {
    expect(toA2ATask(task('completed', { output: 'hi' })).artifacts[0]!.parts[0]!.content).toEqual({ $case: 'text', value: 'hi' });
    expect(toA2ATask(task('completed', { output: { n: 1 } })).artifacts[0]!.parts[0]!.content).toEqual({ $case: 'data', value: { n: 1 } });
    expect(toA2ATask(task('completed', { output: null })).artifacts).toEqual([]);
    const failed = toA2ATask(task('failed', { error: { message: 'boom', code: 'x' } }));
    expect(failed.artifacts).toEqual([]);
    expect(failed.status?.message?.parts[0]!.content).toEqual({ $case: 'text', value: 'boom' });
    expect(failed.contextId).toBe('t-1');
    expect(toA2ATask(task('queued', { contextId: 'ctx-9' })).contextId).toBe('ctx-9');
  });
});

describe('A2A messages as mesh submits', () => {
  it('takes one data part as the input, text parts as {text}, mixed parts as {text, data}', async () => {
    expect((await submitRequestOf(send({ parts: [{ data: { a: 1 } }], metadata: { skill: 'echo' } }), skills())).input).toEqual({ a: 1 });
    expect((await submitRequestOf(send({ parts: [{ text: 'a' }, { text: 'b' }], metadata: { skill: 'echo' } }), skills())).input).toEqual({ text: 'a\nb' });
    expect((await submitRequestOf(send({ parts: [{ text: 'a' }, { data: 2 }], metadata: { skill: 'echo' } }), skills())).input).toEqual({ text: 'a', data: [2] });
  });

  it('names the skill from the message, the request, or the tenant when it has one only; keys the submit by messageId', async () => {
    expect(await submitRequestOf(send({ parts: [{ text: 'x' }], contextId: 'ctx-1', metadata: { priority: 9 } }), skills('only'))).toEqual({
      capability: 'only', input: { text: 'x' }, idempotencyKey: 'a2a:m-1', priority: 9, contextId: 'ctx-1',
    });
    expect((await submitRequestOf(send({ parts: [{ text: 'x' }] }, { skill: 'from-request' }), skills('a', 'b'))).capability).toBe('from-request');
    await expect(submitRequestOf(send({ parts: [{ text: 'x' }] }), skills('a', 'b'))).rejects.toThrow(/metadata.skill: this tenant has 2 \(a, b\)/);
    await expect(submitRequestOf(send({ parts: [{ text: 'x' }] }), skills())).rejects.toBeInstanceOf(RequestMalformedError);
  });

  it('refuses what the mesh cannot take, with the A2A error that says why', async () => {
    await expect(submitRequestOf(send({ parts: [{ url: 'https://x/y.pdf' }], metadata: { skill: 's' } }), skills())).rejects.toBeInstanceOf(ContentTypeNotSupportedError);
    await expect(submitRequestOf(send({ parts: [], metadata: { skill: 's' } }), skills())).rejects.toBeInstanceOf(RequestMalformedError);
    await expect(submitRequestOf(send({ parts: [{ text: 'x' }], taskId: 'old', metadata: { skill: 's' } }), skills())).rejects.toBeInstanceOf(UnsupportedOperationError);
    await expect(submitRequestOf(send({ parts: [{ text: 'x' }], metadata: { skill: 7 } }), skills())).rejects.toBeInstanceOf(RequestMalformedError);
    await expect(submitRequestOf(send({ messageId: 'm'.repeat(201), parts: [{ text: 'x' }], metadata: { skill: 's' } }), skills())).rejects.toBeInstanceOf(RequestMalformedError);
  });
});

describe('keepalives on a quiet stream', () => {
  it('puts the keepalive between items whenever the source is quiet that long, and ends with the source', async () => {
    async function* slow() {
      yield 1;
      await new Promise((r) => setTimeout(r, 130));
      yield 2;
    }
    const seen: Array<number | 'ka'> = [];
    for await (const item of withKeepalive<number | 'ka'>(slow(), 50, 'ka')) seen.push(item);
    expect(seen[0]).toBe(1);
    expect(seen.at(-1)).toBe(2);
    expect(seen.filter((s) => s === 'ka').length).toBeGreaterThanOrEqual(2);
  });

  it('returns the source when the reader stops early', async () => {
    let finished = false;
    async function* endless() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        finished = true;
      }
    }
    for await (const item of withKeepalive(endless(), 1000, -1)) if (item === 3) break;
    expect(finished).toBe(true);
  });
});
