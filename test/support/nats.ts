import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { inject } from 'vitest';

/** The real NATS server's URL (JetStream enabled), or null when the run skips NATS suites. */
export const natsUrl: string | null = inject('natsUrl');

/** A NATS namespace no other test run or file shares (AGENTMESH_NATS_NAMESPACE). */
export function newNamespace(): string {
  return `amtest_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
}

/** Deletes the streams a mesh made in these namespaces. */
export async function deleteNamespaceStreams(namespaces: readonly string[]): Promise<void> {
  if (natsUrl === null || namespaces.length === 0) return;
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    for (const ns of namespaces) {
      for (const stream of ['AGENTMESH_WORK', 'AGENTMESH_EVENTS']) await jsm.streams.delete(`${stream}_${ns.toUpperCase()}`).catch(() => false);
    }
  } finally {
    await nc.close();
  }
}
