import type { FastifyInstance } from 'fastify';
import { parse as secureJsonParse } from 'secure-json-parse';

/** Refuses bytes that are not UTF-8 instead of replacing them with U+FFFD. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** A JSON body the API cannot read: a 400 `malformed_request` saying why. */
class MalformedBody extends Error {
  readonly statusCode = 400;
  readonly code = 'FST_ERR_CTP_INVALID_JSON_BODY';
}

/** A body the API cannot take as JSON text: another character set (JSON is UTF-8, RFC 8259 section 8.1), or a content coding it does not decode. */
class UnsupportedBody extends Error {
  readonly statusCode = 415;
  readonly code = 'ERR_BODY_ENCODING';
}

function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw new MalformedBody('the body is empty: send a JSON document, or no Content-Type');
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new MalformedBody('the body is not valid UTF-8, which JSON must be (RFC 8259)');
  }
  try {
    return secureJsonParse(text, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    // secure-json-parse refuses keys that would reach an object's prototype once merged.
    if (/prototype/u.test((error as Error).message)) throw new MalformedBody('the body holds a "__proto__" or "constructor.prototype" key, which the API refuses (prototype poisoning)');
    throw new MalformedBody(`the body is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Fastify's JSON parser with messages that say what is wrong: it answered "Body is not valid JSON"
 * to a body with a `__proto__` key too, and read bytes that are not UTF-8 as U+FFFD. A charset
 * other than UTF-8 in the Content-Type, or a Content-Encoding (gzip, br...), is refused with 415.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/iu.exec(request.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && !/^utf-?8$/iu.test(charset)) return done(new UnsupportedBody(`JSON is UTF-8: charset=${charset.slice(0, 32)} is not accepted`), undefined);
    // RFC 9110, section 8.4: a coding the server does not decode is refused, not read as if plain.
    const coding = request.headers['content-encoding'];
    if (coding !== undefined && coding.trim().toLowerCase() !== 'identity') {
      return done(new UnsupportedBody(`the API does not decode Content-Encoding '${coding.slice(0, 64)}': send the body uncompressed`), undefined);
    }
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
