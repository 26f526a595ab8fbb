/**
 * Personal data in audit entries (the caller's address and user agent, and details a caller marks
 * personal) is kept sealed under a key of its data subject, and hashed into the chain as sealed.
 * Destroying a subject's keys (crypto-shredding) makes it unreadable for good while every hash,
 * and so the chain, stays as it was. The guard of migration 004 keeps a destroyed key destroyed and every key's row.
 */
export const sql = `
ALTER TABLE audit_log ADD COLUMN subject_id text, ADD COLUMN personal text;

CREATE TABLE audit_subject_keys (
  -- '<tenant id>/<subject id>'
  owner text NOT NULL,
  version integer NOT NULL,
  master_key_id text NOT NULL,
  -- NULL once destroyed
  wrapped_key text,
  created_at bigint NOT NULL,
  destroyed_at bigint,
  PRIMARY KEY (owner, version),
  CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
);

-- The same guard as tenant_keys (migration 004): never deleted, a destroyed key stays destroyed.
CREATE TRIGGER audit_subject_keys_guard BEFORE UPDATE OR DELETE ON audit_subject_keys FOR EACH ROW EXECUTE FUNCTION key_encryption_keys_guard('owner');
CREATE TRIGGER audit_subject_keys_no_truncate BEFORE TRUNCATE ON audit_subject_keys FOR EACH STATEMENT EXECUTE FUNCTION key_encryption_keys_guard('owner');
`;
