import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import helmet from 'helmet';
import { describe, expect, it } from 'vitest';
import { helmetHeaders } from '../../../src/presentation/api/plugins/security-headers.js';

/** What helmet sets on a real response, for the same options. */
function onRealResponse(options: Parameters<typeof helmet>[0]): Record<string, string> {
  const request = new IncomingMessage(new Socket());
  const response = new ServerResponse(request);
  response.setHeader('X-Powered-By', 'something');
  helmet(options)(request, response, () => {});
  return Object.fromEntries(Object.entries(response.getHeaders()).map(([name, value]) => [name, String(value)]));
}

describe('security headers worked out once', () => {
  it.each([{ contentSecurityPolicy: false }, {}, { hsts: { maxAge: 60 }, frameguard: { action: 'deny' as const } }])(
    'are the headers helmet sets on a real response (%j)',
    (options) => {
      const once = helmetHeaders(options);
      expect(once).toEqual(onRealResponse(options));
      expect(once['x-content-type-options']).toBe('nosniff');
      expect(once['x-powered-by']).toBeUndefined();
    },
  );

  it('carries no Content-Security-Policy when it is turned off (the API sets its own)', () => {
    expect(helmetHeaders({ contentSecurityPolicy: false })['content-security-policy']).toBeUndefined();
  });

  it('refuses options helmet refuses, at start rather than at a request', () => {
    expect(() => helmetHeaders({ contentSecurityPolicy: { directives: { 'default-src': ['self'] } } })).toThrow(/quoted/u);
  });
});
