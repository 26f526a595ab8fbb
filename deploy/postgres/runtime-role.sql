-- Least privilege for the role the mesh runs as (AGENTMESH_DATABASE_URL of `agentmesh serve`).
--
-- The schema belongs to another role, which applies migrations (`agentmesh migrate`, run with
-- that role's URL before a new version starts). Run this file as that owner or a superuser after
-- every migration:
--
--   psql "$OWNER_DATABASE_URL" -v role=agentmesh -f deploy/postgres/runtime-role.sql
--
-- The run-time role may read and change the mesh's tables, but may only INSERT and SELECT the
-- audit log, its checkpoints and signing keys: it cannot UPDATE, DELETE or TRUNCATE them (and
-- triggers refuse those statements whatever the role; the owner, who may drop them, is trusted as
-- a superuser is, and what either changes is found by `agentmesh audit verify`).
\set ON_ERROR_STOP on

GRANT USAGE ON SCHEMA public TO :"role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"role";
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_checkpoints, audit_signing_keys, audit_prunes FROM :"role";
-- Pruning past a tenant's retention goes through this function only (it runs as the owner), which
-- records each prune; the history of retentions is kept by a trigger (it runs as the owner too).
GRANT EXECUTE ON FUNCTION audit_prune(text) TO :"role";
REVOKE INSERT ON audit_prunes, audit_retention_changes FROM :"role";
REVOKE UPDATE, DELETE, TRUNCATE ON audit_retention_changes FROM :"role";
-- The heads of the chains move with every append (UPDATE), but are never removed; a head moved
-- against its chain is reported by `agentmesh audit verify`.
REVOKE DELETE, TRUNCATE ON audit_heads FROM :"role";
GRANT SELECT, INSERT, UPDATE ON audit_heads TO :"role";
-- Tenant keys and audit data subjects' keys are destroyed (their wrapped key cleared), never
-- removed: the row records when.
REVOKE DELETE, TRUNCATE ON tenant_keys, audit_subject_keys FROM :"role";
