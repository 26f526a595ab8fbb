/**
 * The outbox: events waiting for the relay are those with no published_at. A partial index finds
 * them without scanning the table. Events written before this migration were never meant to be
 * relayed: they are marked published, so the relay starts with what comes next.
 */
export const sql = `
UPDATE events SET published_at = occurred_at WHERE published_at IS NULL;
CREATE INDEX events_unpublished ON events (seq) WHERE published_at IS NULL;
`;
