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
-- The one DELETE the log allows: a chain's prefix, by audit_prune() below, which says so for its own transaction.
CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND OLD.tenant_id = current_setting('agentmesh.audit_prune_tenant', true)
     AND OLD.seq <= nullif(current_setting('agentmesh.audit_prune_upto', true), '')::bigint THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_guard();
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

-- Retention: a tenant may keep its log for a number of days (none: forever).
CREATE TABLE audit_retention (
  tenant_id text PRIMARY KEY,
  days integer NOT NULL CHECK (days >= 1),
  updated_at bigint NOT NULL
);

-- Each pruned prefix of a chain: the entry it ended at, which a signed checkpoint covers, anchors
-- what is left (its first entry links to upto_hash).
CREATE TABLE audit_prunes (
  tenant_id text NOT NULL,
  upto_seq bigint NOT NULL,
  upto_hash text NOT NULL,
  upto_at bigint NOT NULL,
  entries bigint NOT NULL,
  pruned_at bigint NOT NULL,
  PRIMARY KEY (tenant_id, upto_seq)
);
CREATE TRIGGER audit_prunes_append_only BEFORE UPDATE OR DELETE ON audit_prunes FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_prunes_no_truncate BEFORE TRUNCATE ON audit_prunes FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- Removes the entries of a tenant older than its retention, up to the newest signed checkpoint
-- among them, and records the prune. Runs as its owner, so the mesh's own role needs no DELETE on
-- the log; the time is the database's, not the caller's. Returns the number of entries removed.
CREATE FUNCTION audit_prune(p_tenant text) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_days integer;
  v_now bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  v_upto bigint;
  v_hash text;
  v_at bigint;
  v_count bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('agentmesh.audit_prune'), hashtext(p_tenant));
  SELECT days INTO v_days FROM audit_retention WHERE tenant_id = p_tenant;
  IF v_days IS NULL THEN RETURN 0; END IF;
  SELECT c.seq, c.hash, a.at INTO v_upto, v_hash, v_at
  FROM audit_checkpoints c JOIN audit_log a ON a.tenant_id = c.tenant_id AND a.seq = c.seq AND a.hash = c.hash
  WHERE c.tenant_id = p_tenant AND a.at < v_now - v_days::bigint * 86400000
  ORDER BY c.seq DESC LIMIT 1;
  IF v_upto IS NULL THEN RETURN 0; END IF;
  SELECT count(*) INTO v_count FROM audit_log WHERE tenant_id = p_tenant AND seq <= v_upto;
  IF v_count = 0 THEN RETURN 0; END IF;
  INSERT INTO audit_prunes (tenant_id, upto_seq, upto_hash, upto_at, entries, pruned_at) VALUES (p_tenant, v_upto, v_hash, v_at, v_count, v_now);
  PERFORM set_config('agentmesh.audit_prune_tenant', p_tenant, true);
  PERFORM set_config('agentmesh.audit_prune_upto', v_upto::text, true);
  DELETE FROM audit_log WHERE tenant_id = p_tenant AND seq <= v_upto;
  PERFORM set_config('agentmesh.audit_prune_tenant', '', true);
  PERFORM set_config('agentmesh.audit_prune_upto', '', true);
  RETURN v_count;
END $$;

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_checkpoints, audit_signing_keys, audit_prunes FROM PUBLIC;
`;
