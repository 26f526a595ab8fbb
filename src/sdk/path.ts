import { AgentMeshError } from './errors.js';

/**
 * `value` as one segment of a URL path, percent-encoded: a `/`, `?` or `#` in an id stays in its
 * segment. A `.` or `..` segment is refused before sending, by `dotSegmentRefusal`, for any path.
 */
export function pathSegment(value: string): string {
  return encodeURIComponent(value);
}

/** A segment a URL parser drops (`.`) or takes for the parent (`..`), percent-encoded or not. */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/iu;

/** What each collection of the API names what it holds, as its not-found problems do. */
const KINDS: Record<string, string> = { tasks: 'task', 'dead-letters': 'task', agents: 'agent', secrets: 'secret', tenants: 'tenant', 'api-keys': 'api key' };

/**
 * The error for a path holding a `.` or `..` segment, which would reach another path (or none):
 * what the mesh answers for any id it does not know, `404 not_found` (`task '..' was not found`),
 * for no task, agent, tenant or key has such an id (the mesh makes task and key ids; agent and
 * tenant ids are 3 or more characters); made here, without a request. Undefined for a path
 * without one.
 */
export function dotSegmentRefusal(path: string): AgentMeshError | undefined {
  const segments = path.split(/[?#]/u, 1)[0]!.split('/');
  const at = segments.findIndex((segment) => DOT_SEGMENT.test(segment));
  if (at < 0) return undefined;
  const id = segments[at]!.replace(/%2e/giu, '.');
  const kind = KINDS[segments[at - 1] ?? ''] ?? 'resource';
  const detail = `${kind} '${id}' was not found`;
  const problem = {
    type: 'https://agentmesh.dev/problems/not_found',
    title: 'Not Found',
    status: 404,
    detail,
    instance: path,
    kind,
    id,
    notSent: `'${id}' cannot be sent as a segment of a URL path (URL parsers resolve it, even as %2E): the request was not sent`,
  };
  return new AgentMeshError(404, problem.type, `404 ${detail}`, problem);
}
