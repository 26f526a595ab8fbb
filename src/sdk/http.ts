import { errorFromProblem, parseRetryAfter, type AgentMeshError } from './errors.js';
import { dotSegmentRefusal } from './path.js';
import { Retrier, retrySettings, type RetryOptions, type Safety } from './retry.js';

export interface HttpOptions {
  url: string;
  apiKey: string;
  fetch?: typeof fetch;
  /** How failed requests are tried again (see RetryOptions for the defaults); `false`: never. */
  retry?: RetryOptions | false;
  /**
   * Longest wait for one try of a request, in ms (a long poll's own wait comes on top); past it the
   * try fails with a `TimeoutError` (retried like a network error). Default 30000; 0: no limit.
   */
  timeoutMs?: number;
}

export interface RequestOptions {
  body?: unknown;
  /** A body already serialized as JSON (instead of `body`). */
  bodyJson?: string;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /**
   * Whether the request may be sent again after a failure (see `Safety`). By default GET, HEAD,
   * PUT, DELETE and OPTIONS, and any request with an `Idempotency-Key` header, are `'idempotent'`;
   * others `'unsafe'`. `false`: one try only.
   */
  retry?: Safety | false;
  /** Tries in all, instead of the client's `retry.maxAttempts`. */
  maxAttempts?: number;
  /** Instead of the client's `timeoutMs` for each try (0: no limit). */
  timeoutMs?: number;
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const DEFAULT_TIMEOUT_MS = 30_000;

/** The safety a request has unless told otherwise: by its method, or its Idempotency-Key. */
function defaultSafety(method: string, headers: Record<string, string> | undefined): Safety {
  if (IDEMPOTENT_METHODS.has(method.toUpperCase())) return 'idempotent';
  return headers && Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key') ? 'idempotent' : 'unsafe';
}

/**
 * JSON over fetch with the API key; a non-2xx answer becomes an AgentMeshError. Failed tries are
 * retried by the client's policy (`retry`), each try bounded by `timeoutMs`.
 */
export class Http {
  readonly baseUrl: string;
  readonly retrier: Retrier;
  readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly authorization: string;

  constructor(options: HttpOptions) {
    // Said here, not as a 401 from the server that reads like a revoked key.
    if (typeof options.apiKey !== 'string' || options.apiKey === '') throw new TypeError('apiKey is required: pass the API key the mesh gave you (for example from AGENTMESH_API_KEY)');
    if (typeof options.url !== 'string' || !/^https?:\/\//u.test(options.url)) throw new TypeError(`url must be the mesh's http:// or https:// address, got ${JSON.stringify(options.url)}`);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new TypeError(`timeoutMs must be a number of milliseconds of at least 0, got ${String(options.timeoutMs)}`);
    this.baseUrl = options.url.replace(/\/+$/, '');
    this.fetchFn = options.fetch ?? fetch;
    this.authorization = `Bearer ${options.apiKey}`;
    this.retrier = new Retrier(retrySettings(options.retry));
    this.timeoutMs = timeoutMs;
  }

  url(path: string, query?: RequestOptions['query']): string {
    let url = this.baseUrl + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
      const qs = params.toString();
      if (qs) url += `?${qs}`;
    }
    return url;
  }

  /** The 2xx response (its body unread); `timeoutMs` bounds the wait for the response's headers. */
  raw(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    return this.send(method, path, options, async (response) => response, false);
  }

  /** The parsed JSON body, or undefined on 204; `timeoutMs` bounds the whole exchange. */
  json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return this.send(method, path, options, async (response) => (response.status === 204 ? undefined : await response.json()) as T, true);
  }

  private send<T>(method: string, path: string, options: RequestOptions, read: (response: Response) => Promise<T>, timeBody: boolean): Promise<T> {
    // A '.' or '..' segment would take the request to another path (`/v1/tasks/../cancel` is `/v1/cancel`): not sent.
    const refusal = dotSegmentRefusal(path);
    if (refusal) return Promise.reject(refusal);
    // Serialized once, before any try: a body that cannot be serialized is the caller's error, not retried.
    const body = options.bodyJson ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined);
    const headers: Record<string, string> = { authorization: this.authorization, ...options.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const url = this.url(path, options.query);
    const safety = options.retry ?? defaultSafety(method, options.headers);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const once = async () => {
      const attempt = new TryScope(timeoutMs, options.signal, `${method} ${path}`);
      try {
        const response = await this.fetchFn(url, { method, headers, ...(body !== undefined && { body }), signal: attempt.signal });
        if (!response.ok) throw await toError(response);
        const result = await read(response);
        if (!timeBody) attempt.keepSignal();
        return result;
      } catch (error) {
        throw attempt.translate(error);
      } finally {
        attempt.end();
      }
    };
    return this.retrier.run(safety, once, {
      operation: `${method} ${path}`,
      ...(options.signal && { signal: options.signal }),
      ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
    });
  }
}

/**
 * One try's signal: the caller's, plus the try's timeout. A timeout becomes a `TimeoutError`; the
 * caller's abort stays what it was.
 */
class TryScope {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout | undefined;
  /** Made when the time is up, not for every try (an error captures a stack). */
  private timeoutError: DOMException | undefined;
  private kept = false;
  private readonly onAbort: () => void;

  constructor(
    timeoutMs: number,
    private readonly outer: AbortSignal | undefined,
    operation: string,
  ) {
    this.onAbort = () => this.controller.abort(outer!.reason);
    if (outer?.aborted) this.controller.abort(outer.reason);
    else outer?.addEventListener('abort', this.onAbort, { once: true });
    if (timeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.timeoutError = new DOMException(`${operation} got no answer within ${timeoutMs} ms`, 'TimeoutError');
        this.controller.abort(this.timeoutError);
      }, timeoutMs);
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The response's body is read later by the caller (a stream): the caller's abort must still reach it. */
  keepSignal(): void {
    this.kept = true;
    clearTimeout(this.timer);
  }

  translate(error: unknown): unknown {
    if (this.timeoutError !== undefined && this.controller.signal.reason === this.timeoutError && !this.outer?.aborted) return this.timeoutError;
    return error;
  }

  end(): void {
    clearTimeout(this.timer);
    if (!this.kept) this.outer?.removeEventListener('abort', this.onAbort);
  }
}

async function toError(response: Response): Promise<AgentMeshError> {
  let problem: Record<string, unknown> = {};
  try {
    problem = (await response.json()) as Record<string, unknown>;
  } catch {
    // not JSON: keep the status line
  }
  return errorFromProblem(response.status, problem, response.statusText, parseRetryAfter(response.headers.get('retry-after')));
}
