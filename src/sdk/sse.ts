export interface ServerSentEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Parses a text/event-stream body into events (the subset AgentMesh sends: event, id, data).
 * `onChunk` is called for every chunk read, comments (keepalives) included: a sign of life.
 */
export async function* readEvents(body: ReadableStream<Uint8Array>, onChunk?: () => void): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let data: string[] = [];
  let id: string | undefined;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    onChunk?.();
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      if (line === '') {
        if (data.length > 0) yield { event, data: data.join('\n'), ...(id !== undefined && { id }) };
        event = 'message';
        data = [];
        id = undefined;
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') id = value;
      }
    }
  }
}
