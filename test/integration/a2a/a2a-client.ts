import { SendMessageRequest, type StreamResponse } from '@a2a-js/sdk';
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory, type Client } from '@a2a-js/sdk/client';

/** A fetch that presents `key` as a bearer token (none: no Authorization header). */
export function fetchWithKey(key: string | undefined): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    if (key !== undefined) headers.set('authorization', `Bearer ${key}`);
    return fetch(input, { ...init, headers });
  };
}

/** The official SDK's client, found through the mesh's agent card, with `key` on every request. */
export async function a2aClient(baseUrl: string, key: string | undefined): Promise<Client> {
  const fetchImpl = fetchWithKey(key);
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl })],
      cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
    }),
  );
  return factory.createFromUrl(baseUrl);
}

let messages = 0;

/** A user message of text parts (or one data part), for `skill`. */
export function message(content: string | object, metadata: Record<string, unknown> = {}, configuration: Record<string, unknown> = {}): SendMessageRequest {
  messages += 1;
  return SendMessageRequest.fromJSON({
    message: {
      messageId: `msg-${process.pid}-${Date.now()}-${messages}`,
      role: 'ROLE_USER',
      parts: [typeof content === 'string' ? { text: content } : { data: content }],
      metadata,
    },
    configuration,
  });
}

export async function collect(events: AsyncGenerator<StreamResponse, void, undefined>): Promise<StreamResponse[]> {
  const all: StreamResponse[] = [];
  for await (const event of events) all.push(event);
  return all;
}
