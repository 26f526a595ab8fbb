/**
 * The elected leader of a mesh of many instances says here which NATS namespace it serves, and
 * which PostgreSQL session holds its lock: an instance started with another namespace (a typo)
 * reaches no leader over NATS, and finds out here instead of silently timing out.
 */
export const sql = `
CREATE TABLE mesh_leader (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  nats_namespace text NOT NULL,
  instance text NOT NULL,
  backend_pid integer NOT NULL,
  elected_at timestamptz NOT NULL DEFAULT now()
);
`;
