/**
 * The secret store: envelope encryption. Each tenant has key-encryption keys (wrapped by a master
 * key that never reaches the database); each secret version has its own data key, wrapped by the
 * tenant's key, that seals its value. Destroying a tenant's keys (crypto-shredding) overwrites
 * their wrapped form; a trigger keeps a destroyed key destroyed and every key's row in place.
 */
export const sql = `
CREATE TABLE tenant_keys (
  tenant_id text NOT NULL,
  version integer NOT NULL,
  master_key_id text NOT NULL,
  -- NULL once destroyed
  wrapped_key text,
  created_at bigint NOT NULL,
  destroyed_at bigint,
  PRIMARY KEY (tenant_id, version),
  CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
);

CREATE FUNCTION tenant_keys_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
    RAISE EXCEPTION 'tenant keys are never deleted: destroy one by clearing its wrapped key' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.destroyed_at IS NOT NULL THEN
    RAISE EXCEPTION 'tenant key %/% was destroyed and stays destroyed', OLD.tenant_id, OLD.version USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.tenant_id <> OLD.tenant_id OR NEW.version <> OLD.version OR NEW.created_at <> OLD.created_at THEN
    RAISE EXCEPTION 'a tenant key''s identity does not change' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER tenant_keys_guard BEFORE UPDATE OR DELETE ON tenant_keys FOR EACH ROW EXECUTE FUNCTION tenant_keys_guard();
CREATE TRIGGER tenant_keys_no_truncate BEFORE TRUNCATE ON tenant_keys FOR EACH STATEMENT EXECUTE FUNCTION tenant_keys_guard();

CREATE TABLE secrets (
  tenant_id text NOT NULL,
  name text NOT NULL,
  description text,
  policy json NOT NULL,
  current_version integer NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

CREATE TABLE secret_versions (
  tenant_id text NOT NULL,
  name text NOT NULL,
  version integer NOT NULL,
  -- bound into the value's AAD with the tenant and the name
  version_id text NOT NULL,
  tenant_key_version integer NOT NULL,
  wrapped_data_key text NOT NULL,
  ciphertext text NOT NULL,
  created_at bigint NOT NULL,
  created_by text,
  PRIMARY KEY (tenant_id, name, version),
  FOREIGN KEY (tenant_id, name) REFERENCES secrets (tenant_id, name) ON DELETE CASCADE
);
`;
