import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type DomainErrorCode } from '../../../domain/index.js';
import { PLAIN } from '../../../domain/plain.js';

export const PROBLEM_BASE = 'https://agentmesh.dev/problems/';

/** PostgreSQL's untranslatable_character and character_not_in_repertoire: text it cannot hold. */
const TEXT_THE_DATABASE_REFUSES = new Set(['22P05', '22021']);
export const REFUSED_TEXT_DETAIL = 'the request holds a NUL character or text the database cannot store';

/** Text the database refused, in a value no domain check covered (an id in a path, say): the client's, not a fault of the server. */
export const refusedText = (error: unknown) => TEXT_THE_DATABASE_REFUSES.has((error as { code?: unknown } | null)?.code as string);

/** The longest path segment the router takes as a parameter: ids and names are at most 512 characters (`IdParams`). */
export const MAX_PATH_PARAM_LENGTH = 512;

/** Errors of the framework before a route is found (a URL that is not valid percent-encoded UTF-8, a path segment too long), as problem+json. */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (error.code === 'FST_ERR_BAD_URL') return void sendProblem(reply, request, 400, 'malformed_request', 'the URL is not valid percent-encoded UTF-8');
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return void sendProblem(reply, request, 414, 'uri_too_long', `a path segment is longer than the API takes (${MAX_PATH_PARAM_LENGTH} characters)`);
  }
  const status = error.statusCode ?? 500;
  void sendProblem(reply, request, status, status < 500 ? 'malformed_request' : 'internal', error.message);
}

/** What a request the HTTP parser refused gets: the status, and why, in words. */
function clientErrorOf(code: string | undefined): [number, string] {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'the request was not received in time'];
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'the request line and headers are larger than the server accepts (16 KiB)'];
  return [400, 'the request is not valid HTTP/1.1 (a malformed header, or a body that does not match its Content-Length or Transfer-Encoding)'];
}

/**
 * A request Node's HTTP parser refused never reaches Fastify: this answers it on the socket, as
 * Fastify's default does, but as problem+json like every other error, then closes the connection.
 */
export function clientErrors(error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const [status, detail] = clientErrorOf(error.code);
    const body = JSON.stringify({ type: `${PROBLEM_BASE}malformed_request`, title: TITLES[status], status, detail });
    socket.write(
      `HTTP/1.1 ${status} ${TITLES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

const STATUS: Record<DomainErrorCode, number> = {
  validation: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  lease_not_held: 409,
  invalid_state: 409,
  gone: 410,
  payload_too_large: 413,
  quota_exceeded: 429,
  unavailable: 503,
};

/** The HTTP status the API answers a domain error with. */
export function httpStatusOf(code: DomainErrorCode): number {
  return STATUS[code];
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, status: number, code: string, detail: string, extra: Record<string, unknown> = {}) {
  // Extensions first: a detail named like a standard member (status, type...) must not replace it.
  const body: ProblemBody = { ...PLAIN, ...extra, type: PROBLEM_BASE + code, title: TITLES[status] ?? 'Error', status, detail, instance: request.url };
  const retryAfter = extra.retryAfterSeconds;
  if (typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
  if (status === 401) void reply.header('www-authenticate', 'Bearer realm="agentmesh"');
  return reply.code(status).type('application/problem+json').send(body);
}

/** A domain message that starts with its field's name says the field as the problem's `field` does: `routing.affinityKey ...` becomes `body.routing.affinityKey ...`. */
function inPlace(message: string, field: string, place: string): string {
  return message.startsWith(`${field} `) ? `${place}.${message}` : message;
}

/**
 * The problem for an error of one item of a batch request: a domain error keeps its status and
 * type; anything else is a logged 500. `field` is prefixed with the item's path in the body.
 */
export function itemProblem(error: unknown, itemPath: string, instance: string, log: { error(obj: object, msg: string): void }): { status: number; body: ProblemBody } {
  if (error instanceof DomainError) {
    const status = STATUS[error.code];
    const field = error.details.field;
    const details = typeof field === 'string' ? { ...PLAIN, ...error.details, field: `${itemPath}.${field}` } : error.details;
    const detail = typeof field === 'string' ? inPlace(error.message, field, itemPath) : error.message;
    return { status, body: { ...PLAIN, ...details, type: PROBLEM_BASE + error.code, title: TITLES[status] ?? 'Error', status, detail, instance } };
  }
  if (refusedText(error)) return { status: 400, body: { type: `${PROBLEM_BASE}validation`, title: TITLES[400]!, status: 400, detail: REFUSED_TEXT_DETAIL, instance } };
  log.error({ err: error, item: itemPath }, 'unhandled error in a batch item');
  return { status: 500, body: { type: `${PROBLEM_BASE}internal`, title: TITLES[500]!, status: 500, detail: 'the server failed to handle this item; it has been logged', instance } };
}

type Violation = NonNullable<FastifyError['validation']>[number];

/** Field path of a schema violation, as `body.capabilities[0].name`. */
function fieldOf(error: FastifyError, v: Violation | undefined): string | undefined {
  if (!v) return undefined;
  const path = v.instancePath.split('/').filter(Boolean).map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('');
  const missing = (v.params as { missingProperty?: string; additionalProperty?: string } | undefined);
  const leaf = missing?.missingProperty ? `.${missing.missingProperty}` : missing?.additionalProperty ? `.${missing.additionalProperty}` : '';
  return `${error.validationContext ?? 'body'}${path}${leaf}`;
}

/** What a violation asks, from the union's place: `must be integer`, or `outcome must be equal to 'completed'` for a field within. */
function formOf(v: Violation, union: Violation): string {
  const within = v.instancePath.slice(union.instancePath.length).split('/').filter(Boolean).join('.');
  const params = (v.params ?? {}) as { allowedValue?: unknown; additionalProperty?: string; missingProperty?: string };
  const message =
    v.keyword === 'const'
      ? `must be ${JSON.stringify(params.allowedValue)}`
      : v.keyword === 'additionalProperties'
        ? `must not have the field '${params.additionalProperty}'`
        : v.keyword === 'required'
          ? `must have the field '${params.missingProperty}'`
          : (v.message ?? 'is invalid');
  return within === '' ? message : `${within} ${message}`;
}

/** `body.deadline must be integer, or match format "date-time"`; with forms that name fields within, each in turn. */
function unionDetail(field: string | undefined, forms: readonly string[]): string {
  if (forms.every((f) => f.startsWith('must '))) return `${field} must ${forms.map((f) => f.slice('must '.length)).join(', or ')}`;
  return `${field} matches none of the forms it may take: ${forms.join('; or ')}`;
}

/**
 * The violation to explain. Within a union (the outermost the first violation lies in): when
 * exactly one form got past the value's own level to a field of it (a settlement whose `error` is
 * too long: the "failed" form), that form's own violation; otherwise the union, with what each
 * form asked (a deadline that is neither epoch ms nor a date-time).
 */
function explained(violations: readonly Violation[]): { violation: Violation | undefined; forms?: string[] } {
  const first = violations[0];
  const union = first && violations.filter((v) => v.keyword === 'anyOf' && first.schemaPath.startsWith(`${v.schemaPath}/`)).sort((a, b) => a.schemaPath.length - b.schemaPath.length)[0];
  if (union === undefined) return { violation: first };
  const branches = new Map<string, Violation[]>();
  for (const v of violations) {
    const branch = /^\/(\d+)\//u.exec(v.schemaPath.slice(union.schemaPath.length))?.[1];
    if (branch === undefined) continue;
    const list = branches.get(branch);
    if (list === undefined) branches.set(branch, [v]);
    else list.push(v);
  }
  const further = [...branches.values()].filter(([v]) => v!.instancePath.length > union.instancePath.length && v!.keyword !== 'const' && v!.keyword !== 'enum');
  if (further.length === 1) return explained(further[0]!);
  return { violation: union, forms: [...new Set([...branches.values()].map(([v]) => formOf(v!, union)))] };
}

/**
 * Every error leaves as RFC 9457 application/problem+json with a stable type. `allowedMethods`: the
 * methods a path has routes for, to answer a wrong method with 405 and Allow, not 404.
 */
export function registerProblemDetails(app: FastifyInstance, allowedMethods: (path: string) => string[] = () => []): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof DomainError) {
      const status = STATUS[error.code];
      // Domain checks name fields of the body; say so, as schema violations do (a route's own check may name its place already).
      const field = error.details.field;
      if (typeof field !== 'string' || /^(querystring|params|headers)\./u.test(field)) return sendProblem(reply, request, status, error.code, error.message, error.details);
      return sendProblem(reply, request, status, error.code, inPlace(error.message, field, 'body'), { ...PLAIN, ...error.details, field: `body.${field}` });
    }
    if (error.validation) {
      const { violation: v, forms } = explained(error.validation);
      const field = fieldOf(error, v);
      if (forms !== undefined) return sendProblem(reply, request, 400, 'validation', unionDetail(field, forms), field ? { field } : {});
      const params = (v?.params ?? {}) as { additionalProperty?: string; allowedValues?: unknown[]; type?: string | string[] };
      const detail = params.additionalProperty
        ? `${field} is not a known field`
        : v?.keyword === 'required'
          ? `${field} is required`
          : v?.keyword === 'enum' && Array.isArray(params.allowedValues)
            ? `${field ?? 'request'} must be one of ${params.allowedValues.join(', ')}`
            : v?.keyword === 'type' && Array.isArray(params.type)
              ? `${field ?? 'request'} must be ${params.type.join(' or ')}`
              : `${field ?? 'request'} ${v?.message ?? 'is invalid'}`;
      return sendProblem(reply, request, 400, 'validation', detail, field ? { field } : {});
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const limitBytes = request.routeOptions.bodyLimit;
      const declared = Number(request.headers['content-length']);
      // A body sent in chunks declares no length: only the limit is known, and that it was passed.
      const sizes = Number.isSafeInteger(declared) && declared > limitBytes ? { limitBytes, actualBytes: declared } : { limitBytes };
      return sendProblem(reply, request, 413, 'payload_too_large', `request body is larger than the server accepts (${limitBytes} bytes)`, sizes);
    }
    if (error.statusCode === 415) {
      return sendProblem(reply, request, 415, 'unsupported_media_type', error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'send the body as application/json' : error.message);
    }
    if (refusedText(error)) return sendProblem(reply, request, 400, 'validation', REFUSED_TEXT_DETAIL);
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return sendProblem(reply, request, status, status === 400 ? 'malformed_request' : 'client_error', error.message);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(reply, request, 500, 'internal', 'the server failed to handle the request; it has been logged');
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allow = allowedMethods(path);
    if (allow.length > 0 && !allow.includes(request.method)) {
      void reply.header('allow', allow.join(', '));
      return sendProblem(reply, request, 405, 'method_not_allowed', `${request.method} is not allowed on ${path}; it allows ${allow.join(', ')}`);
    }
    return sendProblem(reply, request, 404, 'route_not_found', `no route ${request.method} ${path}`);
  });
}
