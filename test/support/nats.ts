import { inject } from 'vitest';

/** The real NATS server's URL (JetStream enabled), or null when the run skips NATS suites. */
export const natsUrl: string | null = inject('natsUrl');
