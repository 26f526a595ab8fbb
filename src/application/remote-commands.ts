import {
  ConcurrencyError,
  ConflictError,
  DomainError,
  ForbiddenError,
  InvalidStateError,
  LeaseNotHeldError,
  NotFoundError,
  PayloadTooLargeError,
  QuotaExceededError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
  type DomainErrorCode,
} from '../domain/index.js';
import type { Logger } from './logger.js';
import { MESH_COMMAND_NAMES, type MeshCommandName, type MeshCommands } from './mesh-commands.js';
import { NoResponderError, type MessageBroker, type Subscription } from './ports.js';

/** Where the leader takes commands. Instances only: no tenant's client ever holds NATS credentials. */
export const COMMAND_SUBJECT = 'agentmesh._mesh.commands';

interface CommandRequest {
  op: MeshCommandName;
  args: unknown[];
}

interface SerializedError {
  name: string;
  code?: DomainErrorCode;
  message: string;
  /** The error's own fields (details, field, retryAfterSeconds...). */
  fields?: Record<string, unknown>;
}

type CommandReply = { ok: true; value: unknown } | { ok: false; error: SerializedError };

const DOMAIN_ERRORS: Record<string, { prototype: DomainError }> = Object.fromEntries(
  [
    ValidationError,
    NotFoundError,
    ConflictError,
    ConcurrencyError,
    LeaseNotHeldError,
    InvalidStateError,
    QuotaExceededError,
    PayloadTooLargeError,
    UnauthorizedError,
    ForbiddenError,
    UnavailableError,
  ].map((c) => [c.name, c]),
);

const encode = (value: unknown) => Buffer.from(JSON.stringify(value));
const decode = <T>(data: Uint8Array): T => JSON.parse(Buffer.from(data).toString('utf8')) as T;

function serializeError(error: unknown): SerializedError {
  if (error instanceof DomainError) return { name: error.name, code: error.code, message: error.message, fields: { ...error } };
  return { name: 'Error', message: (error as Error)?.message ?? String(error) };
}

/** The same error class, code, message and details as on the leader, so the API answers alike on every instance. */
function reviveError(serialized: SerializedError): Error {
  if (serialized.code === undefined) return new Error(`the mesh leader failed: ${serialized.message}`);
  const error = Object.create((DOMAIN_ERRORS[serialized.name] ?? DomainError).prototype) as DomainError;
  Object.assign(error, serialized.fields, { message: serialized.message, name: serialized.name, code: serialized.code });
  Error.captureStackTrace(error, reviveError);
  return error;
}

export interface RemoteCommandOptions {
  /** How long one command may take on the leader. */
  timeoutMs: number;
  /** While no leader serves commands (one is being elected), keep asking this long. */
  leaderWaitMs: number;
  /** Between asks while no leader serves. */
  retryEveryMs?: number;
}

/**
 * The commands of a follower instance: each is sent to the leader and its answer (or its error,
 * as the same DomainError) returned. A command nobody received is asked again until a leader
 * answers; one that timed out is not (it may have run), and the caller gets 503.
 */
export function remoteCommands(broker: MessageBroker, options: RemoteCommandOptions): MeshCommands {
  const retryEveryMs = options.retryEveryMs ?? 100;
  const call = async (op: MeshCommandName, args: unknown[]): Promise<unknown> => {
    const data = encode({ op, args } satisfies CommandRequest);
    const max = broker.maxPayloadBytes;
    if (max !== undefined && data.byteLength > max) throw new PayloadTooLargeError('the request', max, data.byteLength);
    const giveUpAt = Date.now() + options.leaderWaitMs;
    for (;;) {
      try {
        const reply = decode<CommandReply>(await broker.request(COMMAND_SUBJECT, data, options.timeoutMs));
        if (reply.ok) return reply.value;
        throw reviveError(reply.error);
      } catch (error) {
        if (!(error instanceof NoResponderError)) throw error;
        if (Date.now() >= giveUpAt) throw new UnavailableError('no mesh leader is answering (one is being elected); try again shortly', 2);
        await new Promise((resolve) => setTimeout(resolve, retryEveryMs));
      }
    }
  };
  return Object.fromEntries(MESH_COMMAND_NAMES.map((op) => [op, (...args: unknown[]) => call(op, args)])) as unknown as MeshCommands;
}

/** The leader's side: runs the commands other instances send, on its own queues and registry. */
export function serveCommands(broker: MessageBroker, commands: MeshCommands, logger: Logger): Subscription {
  const run = commands as unknown as Record<MeshCommandName, (...args: unknown[]) => Promise<unknown>>;
  return broker.serve(COMMAND_SUBJECT, async (data) => {
    let reply: CommandReply;
    try {
      const request = decode<CommandRequest>(data);
      if (!MESH_COMMAND_NAMES.includes(request.op) || !Array.isArray(request.args)) throw new Error(`unknown command '${String(request.op)}'`);
      reply = { ok: true, value: await run[request.op](...request.args) };
    } catch (error) {
      if (!(error instanceof DomainError)) logger.error({ err: error }, 'a command from another instance failed');
      reply = { ok: false, error: serializeError(error) };
    }
    const encoded = encode(reply);
    const max = broker.maxPayloadBytes;
    if (max !== undefined && encoded.byteLength > max) {
      return encode({ ok: false, error: serializeError(new PayloadTooLargeError('the answer', max, encoded.byteLength)) } satisfies CommandReply);
    }
    return encoded;
  });
}
