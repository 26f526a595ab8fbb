/** An API key may carry its own requests-per-minute limit (the seed's tiers: 10, 100, 1,000, 10,000), in place of the instance's default. */
export const sql = `
ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute integer CHECK (rate_limit_per_minute > 0);
`;
