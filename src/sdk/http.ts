import { errorFromProblem, type AgentMeshError } from './errors.js';

export interface HttpOptions {
  url: string;
  apiKey: string;
  fetch?: typeof fetch;
}

export interface RequestOptions {
  body?: unknown;
  /** A body already serialized as JSON (instead of `body`). */
  bodyJson?: string;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** JSON over fetch with the API key; a non-2xx answer becomes an AgentMeshError. */
export class Http {
  readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly authorization: string;

  constructor(options: HttpOptions) {
    // Said here, not as a 401 from the server that reads like a revoked key.
    if (typeof options.apiKey !== 'string' || options.apiKey === '') throw new TypeError('apiKey is required: pass the API key the mesh gave you (for example from AGENTMESH_API_KEY)');
    if (typeof options.url !== 'string' || !/^https?:\/\//u.test(options.url)) throw new TypeError(`url must be the mesh's http:// or https:// address, got ${JSON.stringify(options.url)}`);
    this.baseUrl = options.url.replace(/\/+$/, '');
    this.fetchFn = options.fetch ?? fetch;
    this.authorization = `Bearer ${options.apiKey}`;
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

  async raw(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { authorization: this.authorization, ...options.headers };
    const body = options.bodyJson ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.fetchFn(this.url(path, options.query), {
      method,
      headers,
      ...(body !== undefined && { body }),
      ...(options.signal && { signal: options.signal }),
    });
    if (!response.ok) throw await toError(response);
    return response;
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.raw(method, path, options);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }
}

async function toError(response: Response): Promise<AgentMeshError> {
  let problem: Record<string, unknown> = {};
  try {
    problem = (await response.json()) as Record<string, unknown>;
  } catch {
    // not JSON: keep the status line
  }
  return errorFromProblem(response.status, problem, response.statusText);
}
