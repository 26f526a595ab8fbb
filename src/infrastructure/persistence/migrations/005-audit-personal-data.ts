/**
 * Personal data in audit entries (the caller's address and user agent, and details a caller marks
 * personal) is kept sealed under a key of its data subject, and hashed into the chain as sealed.
 * Destroying a subject's keys (crypto-shredding) makes it unreadable for good while every hash,
 * and so the chain, stays as it was. A trigger keeps a destroyed key destroyed and every key's row.
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

CREATE FUNCTION audit_subject_keys_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
    RAISE EXCEPTION 'data subject keys are never deleted: destroy one by clearing its wrapped key' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.destroyed_at IS NOT NULL THEN
    RAISE EXCEPTION 'data subject key %/% was destroyed and stays destroyed', OLD.owner, OLD.version USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.owner <> OLD.owner OR NEW.version <> OLD.version OR NEW.created_at <> OLD.created_at THEN
    RAISE EXCEPTION 'a data subject key''s identity does not change' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_subject_keys_guard BEFORE UPDATE OR DELETE ON audit_subject_keys FOR EACH ROW EXECUTE FUNCTION audit_subject_keys_guard();
CREATE TRIGGER audit_subject_keys_no_truncate BEFORE TRUNCATE ON audit_subject_keys FOR EACH STATEMENT EXECUTE FUNCTION audit_subject_keys_guard();
`;
