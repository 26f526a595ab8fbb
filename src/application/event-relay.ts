import type { Logger } from './logger.js';
import { TurnLoop } from './turn-loop.js';
import type { MessageBroker, Outbox, StoredEvent } from './ports.js';
import { eventSubject } from './subjects.js';

export interface EventRelayOptions {
  /** Events per turn. */
  batch: number;
  /** Pause between turns when the outbox was empty. */
  idleMs: number;
  /** Longest pause after failures (the broker or the store is down). */
  maxBackoffMs: number;
}

export const DEFAULT_EVENT_RELAY_OPTIONS: EventRelayOptions = { batch: 500, idleMs: 50, maxBackoffMs: 2_000 };

/** The id the broker de-duplicates on: an aggregate's version is unique, so a re-publish is dropped. */
export const eventMessageId = (e: StoredEvent) => `${e.tenantId}:${e.aggregateType}:${e.aggregateId}:${e.version}`;

/**
 * Publishes committed domain events from the outbox to the broker, in commit order, each on its
 * tenant's subject. Events wait in the outbox while the broker is down and flow when it returns.
 */
export class EventRelay {
  relayed = 0;
  private readonly loop: TurnLoop;

  constructor(
    private readonly outbox: Outbox,
    private readonly broker: MessageBroker,
    logger: Logger,
    private readonly options: EventRelayOptions = DEFAULT_EVENT_RELAY_OPTIONS,
    /** While true, nothing is published: the events wait in the outbox (for another instance, or for later). */
    private readonly held: () => boolean = () => false,
  ) {
    this.loop = new TurnLoop(options, () => this.turn(), {
      failed: (error, inARow) => {
        if (inARow === 1) logger.warn({ err: error }, 'event relay: cannot publish; events wait in the outbox');
      },
      recovered: (relayed) => logger.info({ relayed }, 'event relay: publishing again'),
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Stops the loop, then takes a last few turns for what was committed on the way down (best effort: the rest waits in the outbox). */
  async stop(): Promise<void> {
    await this.loop.stop();
    try {
      for (let turn = 0; turn < 10; turn++) if ((await this.turn()) < this.options.batch) break;
    } catch {
      // The broker or the store is gone: the events stay in the outbox for the next start.
    }
  }

  private async turn(): Promise<number> {
    if (this.held()) return 0;
    const published = await this.outbox.relay(this.options.batch, (events) => this.publish(events));
    this.relayed += published;
    return published;
  }

  /**
   * A turn's events go out at once, except that each aggregate's events go one after the other,
   * each once the one before is stored. Sent together, a publish that failed and was retried (the
   * broker just back) would land after the next version of the same task: the stream would hold
   * them out of order. Events of different aggregates need no order between them.
   */
  private async publish(events: StoredEvent[]): Promise<void> {
    const chains = new Map<string, StoredEvent[]>();
    for (const e of events) {
      const k = `${e.tenantId}\u0000${e.aggregateType}\u0000${e.aggregateId}`;
      const chain = chains.get(k);
      if (chain) chain.push(e);
      else chains.set(k, [e]);
    }
    await Promise.all(
      [...chains.values()].map(async (chain) => {
        for (const e of chain) {
          await this.broker.publish(eventSubject(e.tenantId, e.aggregateType, e.type), Buffer.from(JSON.stringify(e)), {
            'message-id': eventMessageId(e),
            'event-type': e.type,
          });
        }
      }),
    );
  }
}
