/**
 * What a review of the audit log found:
 * - A row below the chain's first seq was never read by verification: seqs start at 1. NOT VALID
 *   keeps a database that already holds such a row starting; verification reports that row.
 * - A retention shortened with SQL, then pruned, left no trace but the prune: every change of a
 *   retention, by whatever role, is kept in audit_retention_changes, which nobody may alter.
 */
export const sql = `
ALTER TABLE audit_log ADD CONSTRAINT audit_log_seq_from_one CHECK (seq >= 1) NOT VALID;

CREATE TABLE audit_retention_changes (
  tenant_id text NOT NULL,
  changed_at bigint NOT NULL,
  days integer,
  previous_days integer,
  changed_by text NOT NULL
);
CREATE INDEX audit_retention_changes_by_tenant ON audit_retention_changes (tenant_id, changed_at);
CREATE TRIGGER audit_retention_changes_append_only BEFORE UPDATE OR DELETE ON audit_retention_changes FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_retention_changes_no_truncate BEFORE TRUNCATE ON audit_retention_changes FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- Runs as its owner, so that the role making the change needs no right on the history.
CREATE FUNCTION audit_retention_history() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  INSERT INTO audit_retention_changes (tenant_id, changed_at, days, previous_days, changed_by)
  VALUES (
    CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END,
    (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
    CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.days END,
    CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.days END,
    session_user
  );
  RETURN NULL;
END $$;
CREATE TRIGGER audit_retention_history AFTER INSERT OR UPDATE OR DELETE ON audit_retention FOR EACH ROW EXECUTE FUNCTION audit_retention_history();

REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_retention_changes FROM PUBLIC;
`;
