import type { Part } from '@a2a-js/sdk';

export function textPart(text: string): Part {
  return { content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' };
}

export function dataPart(value: unknown): Part {
  return { content: { $case: 'data', value }, metadata: undefined, filename: '', mediaType: 'application/json' };
}

/** A JSON value as one part: a string as text, anything else as data. */
export function partOf(value: unknown): Part {
  return typeof value === 'string' ? textPart(value) : dataPart(value ?? null);
}

/** One part as a JSON value: text as a string, data as it is, a file as its reference (bytes as base64). */
function valueOf(part: Part): unknown {
  const content = part.content;
  switch (content?.$case) {
    case 'text':
      return content.value;
    case 'data':
      return content.value ?? null;
    case 'url':
      return { url: content.value, mediaType: part.mediaType, filename: part.filename };
    case 'raw':
      return { base64: Buffer.from(content.value).toString('base64'), mediaType: part.mediaType, filename: part.filename };
    default:
      return null;
  }
}

/** Parts as one JSON value: a single part's value, or the list of their values; null for none. */
export function valueOfParts(parts: readonly Part[]): unknown {
  if (parts.length === 0) return null;
  if (parts.length === 1) return valueOf(parts[0]!);
  return parts.map(valueOf);
}
