/** Every state change of an aggregate is recorded as one of these, with the aggregate's new version. */
export type AgentEventType =
  | 'AgentRegistered'
  | 'AgentHeartbeatMissed'
  | 'AgentRecovered'
  | 'AgentPaused'
  | 'AgentResumed'
  | 'AgentTerminated'
  | 'AgentCircuitOpened'
  | 'AgentCircuitHalfOpened'
  | 'AgentCircuitClosed';

export type TaskEventType =
  | 'TaskSubmitted'
  | 'TaskAssigned'
  | 'TaskStarted'
  | 'TaskLeaseExtended'
  | 'TaskCompleted'
  | 'TaskFailed'
  | 'TaskRetried'
  | 'TaskDeadLettered'
  | 'TaskRequeued'
  | 'TaskCanceled';

export type AggregateType = 'agent' | 'task';

export interface DomainEvent {
  type: AgentEventType | TaskEventType;
  aggregateType: AggregateType;
  aggregateId: string;
  tenantId: string;
  /** The aggregate's version after this event; (aggregateType, aggregateId, version) is unique. */
  version: number;
  occurredAt: number;
  data: Record<string, unknown>;
}
