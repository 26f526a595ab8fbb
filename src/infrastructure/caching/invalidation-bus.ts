import { randomUUID } from 'node:crypto';
import type { MessageBroker, Subscription } from '../../application/ports.js';
import { CACHE_INVALIDATED_SUBJECT } from '../../application/subjects.js';

/** Which entries to drop: encoded keys, and prefixes (a tenant's kind). */
export interface Invalidation {
  keys?: string[];
  prefixes?: string[];
}

/** Carries invalidations between instances; an instance never hears its own. */
export interface InvalidationBus {
  publish(invalidation: Invalidation): Promise<void>;
  /** `onGap`: messages may have been lost (the bus reconnected); the listener should drop what it holds. */
  subscribe(onMessage: (invalidation: Invalidation) => void, onGap: () => void): Promise<void>;
  close(): Promise<void>;
}

/** What travels: the sender, so that it can skip its own messages. */
export interface BusMessage extends Invalidation {
  from: string;
}

/** Parses a message of another instance; undefined for this instance's own, or anything malformed. */
export function othersInvalidation(raw: string, self: string): Invalidation | undefined {
  try {
    const message = JSON.parse(raw) as BusMessage;
    if (message.from === self) return undefined;
    const strings = (list: unknown) => (Array.isArray(list) ? list.filter((s): s is string => typeof s === 'string') : []);
    return { keys: strings(message.keys), prefixes: strings(message.prefixes) };
  } catch {
    return undefined;
  }
}

/** Over the mesh's broker (NATS notify subjects, at most once): for many instances without Redis. */
export class BrokerInvalidationBus implements InvalidationBus {
  private readonly self = randomUUID();
  private subscription: Subscription | undefined;

  constructor(private readonly broker: MessageBroker) {}

  async publish(invalidation: Invalidation): Promise<void> {
    this.broker.notify(CACHE_INVALIDATED_SUBJECT, Buffer.from(JSON.stringify({ from: this.self, ...invalidation })));
  }

  async subscribe(onMessage: (invalidation: Invalidation) => void): Promise<void> {
    this.subscription = this.broker.listen(CACHE_INVALIDATED_SUBJECT, (data) => {
      const invalidation = othersInvalidation(Buffer.from(data).toString('utf8'), this.self);
      if (invalidation) onMessage(invalidation);
    });
    await this.subscription.ready;
  }

  async close(): Promise<void> {
    this.subscription?.unsubscribe();
  }
}
