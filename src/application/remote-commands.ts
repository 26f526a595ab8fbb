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
  GoneError,
} from '../domain/index.js';
import type { Logger } from './logger.js';
import { MESH_COMMAND_NAMES, type MeshCommandName, type MeshCommands } from './mesh-commands.js';
import { NoResponderError, type MessageBroker, type Service } from './ports.js';

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
    GoneError,
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
  /** Why no leader can answer this instance, when that is known: no use waiting for one. */
  leaderUnreachable?: () => string | undefined;
  /**
   * Aborts when the leader this instance sends to is gone or replaced: a command on its way to it
   * will get no answer, so its caller is told at once rather than at the end of `timeoutMs`.
   */
  leaderChange?: () => AbortSignal;
}

/** Commands whose answers are small by construction: those of one tick travel to the leader together. */
const COALESCED: ReadonlySet<MeshCommandName> = new Set<MeshCommandName>(['submitTask', 'settleTask']);
const MAX_COMMANDS_PER_MESSAGE = 128;
/** Without a broker limit, messages still stay this small. */
const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

interface Waiting {
  encoded: string;
  bytes: number;
  resolve: (reply: CommandReply) => void;
  reject: (error: unknown) => void;
}

/**
 * The commands of a follower instance: each is sent to the leader and its answer (or its error,
 * as the same DomainError) returned. Small commands made in the same tick share one message (a
 * batch of 100 submits is one round trip, not 100). A message nobody received is sent again until
 * a leader answers; one that timed out is not (its commands may have run), and callers get 503.
 */
export function remoteCommands(broker: MessageBroker, options: RemoteCommandOptions): MeshCommands {
  const retryEveryMs = options.retryEveryMs ?? 100;
  const maxBytes = () => broker.maxPayloadBytes ?? DEFAULT_MAX_MESSAGE_BYTES;

  const send = async (data: Uint8Array): Promise<Uint8Array> => {
    const giveUpAt = Date.now() + options.leaderWaitMs;
    for (;;) {
      try {
        const answer = broker.request(COMMAND_SUBJECT, data, options.timeoutMs);
        const leaderChange = options.leaderChange?.();
        return await (leaderChange === undefined ? answer : unlessAborted(answer, leaderChange));
      } catch (error) {
        if (!(error instanceof NoResponderError)) throw error;
        const unreachable = options.leaderUnreachable?.();
        if (unreachable !== undefined) throw new UnavailableError(unreachable, 10);
        if (Date.now() >= giveUpAt) throw new UnavailableError('no mesh leader is answering (one is being elected); try again shortly', 2);
        await new Promise((resolve) => setTimeout(resolve, retryEveryMs));
      }
    }
  };

  let queue: Waiting[] = [];
  const sendBatch = (batch: Waiting[]) => {
    send(Buffer.from(`{"batch":[${batch.map((w) => w.encoded).join(',')}]}`))
      .then((data) => {
        const { replies } = decode<{ replies: CommandReply[] }>(data);
        batch.forEach((w, i) => w.resolve(replies[i]!));
      })
      .catch((error: unknown) => batch.forEach((w) => w.reject(error)));
  };
  const flush = () => {
    const waiting = queue;
    queue = [];
    // Room for the envelope and the answers' framing.
    const limit = maxBytes() - 64 * 1024;
    let batch: Waiting[] = [];
    let bytes = 0;
    for (const w of waiting) {
      if (batch.length > 0 && (batch.length >= MAX_COMMANDS_PER_MESSAGE || bytes + w.bytes > limit)) {
        sendBatch(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(w);
      bytes += w.bytes + 1;
    }
    if (batch.length > 0) sendBatch(batch);
  };

  const call = async (op: MeshCommandName, args: unknown[]): Promise<unknown> => {
    const encoded = JSON.stringify({ op, args } satisfies CommandRequest);
    const size = Buffer.byteLength(encoded);
    if (size > maxBytes()) throw new PayloadTooLargeError('the request', maxBytes(), size);
    let reply: CommandReply;
    if (COALESCED.has(op)) {
      reply = await new Promise<CommandReply>((resolve, reject) => {
        if (queue.push({ encoded, bytes: size, resolve, reject }) === 1) queueMicrotask(flush);
      });
    } else {
      reply = decode<CommandReply>(await send(Buffer.from(encoded)));
    }
    if (reply.ok) return reply.value;
    throw reviveError(reply.error);
  };
  return Object.fromEntries(MESH_COMMAND_NAMES.map((op) => [op, (...args: unknown[]) => call(op, args)])) as unknown as MeshCommands;
}

/** `work`'s outcome, unless `signal` aborts first: then 503, as when the leader's answer does not come. */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => {});
      reject(new UnavailableError('the mesh leader changed while this change was on its way to it, so it may or may not have been made: try again (a repeated settlement, or a submit with the same Idempotency-Key, is safe)', 1));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The leader's side: runs the commands other instances send, on its own queues and registry. */
export function serveCommands(broker: MessageBroker, commands: MeshCommands, logger: Logger): Service {
  const run = commands as unknown as Record<MeshCommandName, (...args: unknown[]) => Promise<unknown>>;
  const runOne = async (request: CommandRequest): Promise<CommandReply> => {
    try {
      if (typeof request !== 'object' || request === null || !MESH_COMMAND_NAMES.includes(request.op) || !Array.isArray(request.args)) {
        throw new Error(`not a command: ${JSON.stringify(request)?.slice(0, 200)}`);
      }
      return { ok: true, value: await run[request.op](...request.args) };
    } catch (error) {
      if (!(error instanceof DomainError)) logger.error({ err: error }, 'a command from another instance failed');
      return { ok: false, error: serializeError(error) };
    }
  };
  const tooLarge = (max: number, size: number): CommandReply => ({ ok: false, error: serializeError(new PayloadTooLargeError('the answer', max, size)) });
  return broker.serve(COMMAND_SUBJECT, async (data) => {
    const max = broker.maxPayloadBytes ?? Infinity;
    let request: CommandRequest | { batch: CommandRequest[] };
    try {
      request = decode(data);
    } catch (error) {
      return encode({ ok: false, error: serializeError(error) } satisfies CommandReply);
    }
    if (typeof request === 'object' && request !== null && 'batch' in request && Array.isArray(request.batch)) {
      // Coalesced commands answer small (an id and a status, or a problem), so the batch's answer fits.
      const replies = await Promise.all(request.batch.map(runOne));
      const encoded = encode({ replies });
      if (encoded.byteLength <= max) return encoded;
      const share = Math.floor(max / replies.length);
      return encode({ replies: replies.map((r) => (encode(r).byteLength > share ? tooLarge(share, encode(r).byteLength) : r)) });
    }
    // Anything else is one command (runOne says so when it is not one).
    const encoded = encode(await runOne(request as CommandRequest));
    return encoded.byteLength > max ? encode(tooLarge(max, encoded.byteLength)) : encoded;
  });
}
