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

-- Keys are destroyed by clearing their wrapped form, never deleted, and stay destroyed. Shared by
-- every table of key-encryption keys; TG_ARGV[0] names the table's owner column.
CREATE FUNCTION key_encryption_keys_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
    RAISE EXCEPTION 'keys in % are never deleted: destroy one by clearing its wrapped key', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.destroyed_at IS NOT NULL THEN
    RAISE EXCEPTION 'key %/% of % was destroyed and stays destroyed', to_jsonb(OLD) ->> TG_ARGV[0], OLD.version, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF to_jsonb(NEW) ->> TG_ARGV[0] <> to_jsonb(OLD) ->> TG_ARGV[0] OR NEW.version <> OLD.version OR NEW.created_at <> OLD.created_at THEN
    RAISE EXCEPTION 'a key''s identity does not change' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER tenant_keys_guard BEFORE UPDATE OR DELETE ON tenant_keys FOR EACH ROW EXECUTE FUNCTION key_encryption_keys_guard('tenant_id');
CREATE TRIGGER tenant_keys_no_truncate BEFORE TRUNCATE ON tenant_keys FOR EACH STATEMENT EXECUTE FUNCTION key_encryption_keys_guard('tenant_id');

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
