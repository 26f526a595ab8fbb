import { ConflictError, type Tenant } from '../../domain/index.js';
import type { TenantRepository } from '../../application/ports.js';
import { isUniqueViolation, type SqlExecutor } from './sql-client.js';

interface TenantRow {
  id: string;
  name: string;
  max_agents: number;
  max_tasks_per_hour: number;
  created_at: string | number;
}

/** Tenants change rarely and are read on every submit: reads are cached in-process. */
export class SqlTenantRepository implements TenantRepository {
  private readonly cache = new Map<string, Tenant>();

  constructor(private readonly db: SqlExecutor) {}

  get cachedCount(): number {
    return this.cache.size;
  }

  async create(tenant: Tenant): Promise<void> {
    try {
      await this.db.query('INSERT INTO tenants (id, name, max_agents, max_tasks_per_hour, created_at) VALUES ($1, $2, $3, $4, $5)', [
        tenant.id,
        tenant.name,
        tenant.quotas.maxAgents,
        tenant.quotas.maxTasksPerHour,
        tenant.createdAt,
      ]);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`tenant '${tenant.id}' already exists`, { id: tenant.id });
      throw error;
    }
  }

  async get(id: string): Promise<Tenant | undefined> {
    const hit = this.cache.get(id);
    if (hit) return hit;
    const { rows } = await this.db.query<TenantRow>('SELECT * FROM tenants WHERE id = $1', [id]);
    const r = rows[0];
    if (!r) return undefined;
    const tenant: Tenant = {
      id: r.id,
      name: r.name,
      quotas: { maxAgents: r.max_agents, maxTasksPerHour: r.max_tasks_per_hour },
      createdAt: Number(r.created_at),
    };
    if (this.cache.size < 10_000) this.cache.set(id, tenant);
    return tenant;
  }

  async listIds(): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>('SELECT id FROM tenants ORDER BY id');
    return rows.map((r) => r.id);
  }

  async count(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tenants');
    return rows[0]?.n ?? 0;
  }
}
