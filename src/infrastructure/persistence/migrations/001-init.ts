/** Written for PostgreSQL; PGlite runs the same SQL. Times are epoch milliseconds (bigint). */
export const sql = `
CREATE TABLE tenants (
  id text PRIMARY KEY,
  name text NOT NULL,
  max_agents integer NOT NULL,
  max_tasks_per_hour integer NOT NULL,
  created_at bigint NOT NULL
);

CREATE TABLE api_keys (
  id text PRIMARY KEY,
  tenant_id text NOT NULL REFERENCES tenants(id),
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'orchestrator', 'agent', 'observer')),
  platform boolean NOT NULL DEFAULT false,
  secret_hash text NOT NULL UNIQUE,
  created_at bigint NOT NULL,
  revoked_at bigint
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);

CREATE TABLE agents (
  tenant_id text NOT NULL REFERENCES tenants(id),
  id text NOT NULL,
  status text NOT NULL,
  capabilities text[] NOT NULL,
  version integer NOT NULL,
  in_flight integer NOT NULL DEFAULT 0,
  assigned_count bigint NOT NULL DEFAULT 0,
  completed_count bigint NOT NULL DEFAULT 0,
  failed_count bigint NOT NULL DEFAULT 0,
  avg_latency_ms double precision NOT NULL DEFAULT 0,
  last_heartbeat_at bigint NOT NULL,
  registered_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  -- name, description, capabilities with proficiency, tags, metadata, limits
  profile jsonb NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX agents_by_status ON agents (tenant_id, status);
CREATE INDEX agents_by_capability ON agents USING gin (capabilities);

CREATE TABLE tasks (
  tenant_id text NOT NULL REFERENCES tenants(id),
  id text NOT NULL,
  capability text NOT NULL,
  status text NOT NULL,
  priority smallint NOT NULL,
  agent_id text,
  parent_id text,
  idempotency_key text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  version integer NOT NULL,
  -- written once at submit, and once at completion: state changes do not rewrite them
  input json NOT NULL,
  output json,
  -- the rest of the task: routing, attempts, lease, error, timestamps
  doc json NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
-- Few indexes on purpose: every status change rewrites each of them. Ids are UUIDv7 (time
-- ordered), so the primary key also answers "submitted since" by id range.
CREATE UNIQUE INDEX tasks_by_idempotency_key ON tasks (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_by_status ON tasks (status, tenant_id, id);
CREATE INDEX tasks_by_agent ON tasks (tenant_id, agent_id, id) WHERE agent_id IS NOT NULL;
CREATE INDEX tasks_by_parent ON tasks (tenant_id, parent_id) WHERE parent_id IS NOT NULL;

-- Append-only event store; the unpublished rows are the outbox.
CREATE TABLE events (
  seq bigserial PRIMARY KEY,
  tenant_id text NOT NULL,
  aggregate_type text NOT NULL,
  aggregate_id text NOT NULL,
  version integer NOT NULL,
  type text NOT NULL,
  data json NOT NULL,
  occurred_at bigint NOT NULL,
  published_at bigint,
  UNIQUE (tenant_id, aggregate_type, aggregate_id, version)
);

-- Events are facts: only the outbox mark may change, and nothing may be deleted.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'published_at') = (to_jsonb(OLD) - 'published_at') THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'events are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();
`;
