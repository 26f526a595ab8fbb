/** A task as delivered to the agent that holds its lease (docs/api.md, Delivered task). */
export interface DeliveredTask {
  id: string;
  capability: string;
  input: unknown;
  priority: number;
  /** Counts from 1; a requeued dead letter counts from 1 again. */
  attempt: number;
  /** When this attempt was assigned: with id and attempt it names one assignment. */
  assignedAt: number;
  maxAttempts: number;
  /** The lease's length: extend by about this much to keep working. */
  leaseMs: number;
  leaseExpiresAt: number;
  deadline?: number;
  parentId?: string;
  /** The submitter's W3C trace context: continue the trace in the agent's work. */
  traceparent?: string;
  tracestate?: string;
  /** The secrets the agent may read for this task (names only). */
  secrets?: string[];
}
