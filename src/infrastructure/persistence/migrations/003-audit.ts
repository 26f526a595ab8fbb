/**
 * The audit log: one hash chain per tenant (seq 1, 2, ... each entry's hash covering the one
 * before), the head of each chain, and signed checkpoints of heads. The log and the checkpoints
 * are append-only by triggers, which bind the table owner too; PUBLIC loses UPDATE, DELETE and
 * TRUNCATE on them, and deploy/postgres/runtime-role.sql gives the mesh's own role only
 * INSERT and SELECT there.
 */
export const sql = `
CREATE TABLE audit_log (
  tenant_id text NOT NULL,
  seq bigint NOT NULL,
  -- UUIDv7: unique without an index of its own; (tenant_id, seq) is the key
  id text NOT NULL,
  at bigint NOT NULL,
  actor_type text NOT NULL,
  actor_key_id text,
  actor_role text,
  actor_agent_id text,
  action text NOT NULL,
  resource_type text NOT NULL,
  resource_id text,
  status text NOT NULL,
  source_ip text,
  user_agent text,
  trace_id text,
  -- json keeps the text as written (jsonb would re-encode it); hashing works on the parsed value either way
  details json,
  prev_hash text NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_log_by_time ON audit_log (tenant_id, at);

-- Where each chain ends; locked by every append, so appends to one chain form one sequence.
CREATE TABLE audit_heads (
  tenant_id text PRIMARY KEY,
  seq bigint NOT NULL,
  hash text NOT NULL,
  updated_at bigint NOT NULL
);

-- Public keys that signed checkpoints; verification trusts only the keys it is given, these say which was used.
CREATE TABLE audit_signing_keys (
  key_id text PRIMARY KEY,
  public_key text NOT NULL,
  created_at bigint NOT NULL
);

CREATE TABLE audit_checkpoints (
  tenant_id text NOT NULL,
  seq bigint NOT NULL,
  hash text NOT NULL,
  at bigint NOT NULL,
  key_id text NOT NULL REFERENCES audit_signing_keys(key_id),
  signature text NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_signing_keys_append_only BEFORE UPDATE OR DELETE ON audit_signing_keys FOR EACH ROW EXECUTE FUNCTION audit_append_only();

-- What the mesh did on its own (assignments, deliveries, retries, dead letters, agents lost) is
-- audited from the events, which commit with the state change: the projector reads the events
-- of finished transactions (xid below the oldest running one) in (xid, seq) order, and moves its
-- cursor in the transaction that appends their entries, so each event is audited exactly once.
ALTER TABLE events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX events_by_xid ON events (xid, seq);
CREATE TABLE audit_projection (
  id smallint PRIMARY KEY CHECK (id = 1),
  xid xid8 NOT NULL,
  seq bigint NOT NULL
);
-- Events written before the audit log existed are not projected.
INSERT INTO audit_projection (id, xid, seq) SELECT 1, coalesce(max(xid), '0'::xid8), coalesce(max(seq), 0) FROM events;

-- An agent key acts only as its own agent.
ALTER TABLE api_keys ADD COLUMN agent_id text;

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_checkpoints, audit_signing_keys FROM PUBLIC;
`;
