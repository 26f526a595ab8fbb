export interface ServerSentEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * The most characters one event may hold while it is read: a task's input may be up to 64 MiB
 * (the mesh's largest AGENTMESH_MAX_INPUT_BYTES), and its envelope comes on top.
 */
export const MAX_EVENT_CHARACTERS = 80 * 1024 * 1024;

/**
 * Parses a text/event-stream body into events (the subset AgentMesh sends: event, id, data).
 * `onChunk` is called for every chunk read, comments (keepalives) included: a sign of life. An
 * event (or a line) longer than `maxEventCharacters` ends the stream with an error instead of
 * growing without bound.
 */
export async function* readEvents(body: ReadableStream<Uint8Array>, onChunk?: () => void, maxEventCharacters = MAX_EVENT_CHARACTERS): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let data: string[] = [];
  let dataCharacters = 0;
  let id: string | undefined;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    onChunk?.();
    buffer += decoder.decode(chunk, { stream: true });
    if (buffer.length + dataCharacters > maxEventCharacters) throw new Error(`an event of the task stream passed ${maxEventCharacters} characters: the stream is ended`);
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      if (line === '') {
        if (data.length > 0) yield { event, data: data.join('\n'), ...(id !== undefined && { id }) };
        event = 'message';
        data = [];
        dataCharacters = 0;
        id = undefined;
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') {
          data.push(value);
          dataCharacters += value.length;
        }
        else if (field === 'id') id = value;
      }
    }
  }
}
