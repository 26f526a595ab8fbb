/** Process-wide counters of what the mesh did; the metrics issue exports them to Prometheus. */
export class MeshStats {
  submitted = 0;
  routed = 0;
  delivered = 0;
  completed = 0;
  failed = 0;
  retried = 0;
  deadLettered = 0;
  canceled = 0;
  routingErrors = 0;

  snapshot() {
    return { ...this };
  }
}
