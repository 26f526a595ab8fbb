/**
 * The leader says which Redis key prefix it uses too: an instance on another prefix (a typo), or
 * without Redis, keeps caches, revocations and rate limits apart from the rest of the mesh. An
 * empty text says the leader runs without Redis; NULL, that it is of a build before this column.
 */
export const sql = `
ALTER TABLE mesh_leader ADD COLUMN redis_prefix text;
`;
