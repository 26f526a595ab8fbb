import type { Part, SendMessageRequest } from '@a2a-js/sdk';
import { ContentTypeNotSupportedError, RequestMalformedError, UnsupportedOperationError } from '@a2a-js/sdk/errors';
import type { SubmitRequest } from '../../application/use-cases/submit-task.js';
import { PLAIN } from '../../domain/plain.js';
import { assertStorableText } from '../../domain/index.js';

/** Longest messageId taken: it becomes the task's idempotency key (at most 256 characters) after a prefix. */
const MAX_MESSAGE_ID_LENGTH = 200;
const MAX_PARTS = 64;

type Metadata = Record<string, unknown> | undefined;

/**
 * What a message asks the mesh to run: the capability (`metadata.skill` of the message or of the
 * request, else the tenant's only skill), the input made of its parts, its priority
 * (`metadata.priority`), its context, and an idempotency key from its messageId, so a client that
 * sends one message twice gets one task.
 */
export async function submitRequestOf(params: SendMessageRequest, skills: () => Promise<string[]>): Promise<SubmitRequest> {
  const message = params.message;
  if (message === undefined || message.messageId === '') throw new RequestMalformedError('params.message with a messageId is required');
  if (message.messageId.length > MAX_MESSAGE_ID_LENGTH) throw new RequestMalformedError(`message.messageId must be at most ${MAX_MESSAGE_ID_LENGTH} characters`);
  // It becomes the task's idempotency key: said here by its own name.
  assertStorableText(message.messageId, 'message.messageId');
  if (message.taskId !== '') {
    throw new UnsupportedOperationError('each message starts a new mesh task: continuing a task (message.taskId) is not supported');
  }
  const capability = await capabilityOf(message.metadata, params.metadata, skills);
  const priority = metadataValue(message.metadata, params.metadata, 'priority');
  if (priority !== undefined && typeof priority !== 'number') throw new RequestMalformedError('metadata.priority must be an integer from 0 to 9');
  return {
    capability,
    input: inputOf(message.parts),
    idempotencyKey: `a2a:${message.messageId}`,
    ...(priority !== undefined && { priority }),
    ...(message.contextId !== '' && { contextId: message.contextId }),
  };
}

function metadataValue(message: Metadata, request: Metadata, key: string): unknown {
  return message?.[key] ?? request?.[key];
}

async function capabilityOf(message: Metadata, request: Metadata, skills: () => Promise<string[]>): Promise<string> {
  const named = metadataValue(message, request, 'skill');
  if (named !== undefined) {
    if (typeof named !== 'string') throw new RequestMalformedError('metadata.skill must be a string: the id of a skill of the agent card');
    return named;
  }
  const available = await skills();
  if (available.length === 1) return available[0]!;
  throw new RequestMalformedError(
    available.length === 0
      ? 'no agent is live in this tenant: name the skill in metadata.skill, and the task waits for an agent with it'
      : `name the skill in metadata.skill: this tenant has ${available.length} (${available.slice(0, 10).join(', ')}${available.length > 10 ? ', ...' : ''})`,
  );
}

/** One data part is the input as it is; otherwise `{text, data}`: the text parts joined by newlines, the data parts in order. */
function inputOf(parts: Part[]): unknown {
  if (parts.length === 0) throw new RequestMalformedError('message.parts must hold at least one part');
  if (parts.length > MAX_PARTS) throw new RequestMalformedError(`message.parts must hold at most ${MAX_PARTS} parts`);
  const texts: string[] = [];
  const data: unknown[] = [];
  for (const part of parts) {
    const content = part.content;
    if (content?.$case === 'text') texts.push(content.value);
    else if (content?.$case === 'data') data.push(content.value ?? null);
    else throw new ContentTypeNotSupportedError(`only text and data parts are taken, not ${content?.$case ?? 'empty'} parts`);
  }
  if (texts.length === 0 && data.length === 1) return data[0];
  return { ...PLAIN, ...(texts.length > 0 && { text: texts.join('\n') }), ...(data.length > 0 && { data }) };
}
