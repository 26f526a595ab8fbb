// The baseline of the production-backends benchmark: how many acknowledged JetStream publishes
// per second this machine's NATS takes from one client, with a window of publishes in flight.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

export const NATS_URL = process.env.AGENTMESH_BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';

export async function measureJetStreamPublish({ messages = 20_000, window = 256, payloadBytes = 64 } = {}) {
  const nc = await connect({ servers: NATS_URL, timeout: 3000 });
  const jsm = await jetstreamManager(nc);
  const name = `AMBENCH_${process.pid}_${Date.now().toString(36)}`;
  await jsm.streams.add({ name, subjects: [`${name.toLowerCase()}.>`], storage: 'file', retention: 'workqueue' });
  const js = jetstream(nc);
  const payload = new Uint8Array(payloadBytes);
  try {
    let sent = 0;
    const begin = performance.now();
    await Promise.all(
      Array.from({ length: window }, async () => {
        while (sent < messages) {
          const i = sent++;
          await js.publish(`${name.toLowerCase()}.agent.a${i % 16}`, payload);
        }
      }),
    );
    const seconds = (performance.now() - begin) / 1000;
    return { messages, seconds, publishesPerSecond: messages / seconds };
  } finally {
    await jsm.streams.delete(name).catch(() => false);
    await nc.close();
  }
}

/** Whether the machine's NATS answers; the production-backends figures are skipped otherwise. */
export async function natsReachable() {
  try {
    const nc = await connect({ servers: NATS_URL, timeout: 2000 });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await measureJetStreamPublish());

/** Removes a benchmark mesh's streams (AGENTMESH_WORK_<NS>, AGENTMESH_EVENTS_<NS>). */
export async function dropStreams(namespace) {
  const nc = await connect({ servers: NATS_URL, timeout: 3000 });
  const jsm = await jetstreamManager(nc);
  for (const stream of ['AGENTMESH_WORK', 'AGENTMESH_EVENTS']) await jsm.streams.delete(`${stream}_${namespace.toUpperCase()}`).catch(() => false);
  await nc.close();
}
