/**
 * An agent's open inbox connections on this instance (SSE streams and long polls), at most `max`
 * per agent. A connection past the bound ends the agent's oldest instead of being refused: the
 * oldest is the likeliest to be dead (a client gone without closing its socket), and refusing the
 * newest would lock a reconnecting agent out until dead sockets time out. Agents are bounded by
 * their tenant's `maxAgents` quota, so the whole is bounded too.
 */
export class InboxConnections {
  private readonly byAgent = new Map<string, Array<() => void>>();
  private open = 0;

  constructor(
    readonly max: number,
    private readonly events: { onChange?: (tenantId: string, delta: 1 | -1) => void; onDisplaced?: (tenantId: string) => void } = {},
  ) {}

  get size(): number {
    return this.open;
  }

  /** Counts a connection that `end` closes; returns its release (releasing twice releases once). */
  take(tenantId: string, agentId: string, end: () => void): () => void {
    const key = `${tenantId}\u0000${agentId}`;
    let ends = this.byAgent.get(key);
    if (!ends) this.byAgent.set(key, (ends = []));
    const list = ends;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.open--;
      this.events.onChange?.(tenantId, -1);
      list.splice(list.indexOf(endThis), 1);
      if (list.length === 0 && this.byAgent.get(key) === list) this.byAgent.delete(key);
    };
    const endThis = () => {
      release();
      end();
    };
    list.push(endThis);
    this.open++;
    this.events.onChange?.(tenantId, 1);
    while (list.length > this.max) {
      this.events.onDisplaced?.(tenantId);
      list[0]!();
    }
    return release;
  }
}
