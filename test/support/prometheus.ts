import { inject } from 'vitest';

/** Debian's prometheus and promtool, or null when the run skips the Prometheus suite. */
export const prometheusTools: { server: string; promtool: string } | null = inject('prometheus');
