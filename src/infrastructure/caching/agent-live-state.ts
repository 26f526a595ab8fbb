import type { Agent } from '../../domain/index.js';
import type { AgentLiveState } from '../../application/ports.js';

export function liveStateOf(agent: Agent): AgentLiveState {
  return {
    status: agent.status,
    inFlight: agent.inFlight,
    assignedCount: agent.assignedCount,
    completedCount: agent.completedCount,
    failedCount: agent.failedCount,
    avgLatencyMs: agent.avgLatencyMs,
    lastHeartbeatAt: agent.lastHeartbeatAt,
    updatedAt: agent.updatedAt,
  };
}
