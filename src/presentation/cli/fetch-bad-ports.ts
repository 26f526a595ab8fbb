/**
 * The ports the Fetch standard blocks ("bad port", fetch.spec.whatwg.org/#port-blocking): browsers
 * and Node's fetch (the SDK, the CLI) refuse to connect to them, while curl does not. A mesh may
 * listen there, but its own clients cannot reach it.
 */
export const FETCH_BLOCKED_PORTS: ReadonlySet<number> = new Set([
  0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117,
  119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636,
  989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** A warning when the API's port is one fetch refuses, else undefined. */
export function blockedPortWarning(url: string | undefined): string | undefined {
  const port = url === undefined ? undefined : Number(new URL(url).port);
  if (port === undefined || !FETCH_BLOCKED_PORTS.has(port)) return undefined;
  return `port ${port} is one that fetch refuses to connect to (the Fetch standard's blocked ports): the SDK, the CLI and browsers cannot reach the API there, though curl can; choose another AGENTMESH_PORT`;
}
