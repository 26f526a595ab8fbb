import { describe, expect, it } from 'vitest';
import { configureLogger, REDACTED } from '../../../src/infrastructure/observability/logger.js';
import { captureLines } from '../../support/log-capture.js';

describe('configureLogger', () => {
  it('names the service and hides keys, secrets and authorization headers wherever they sit', () => {
    const out = captureLines();
    const log = configureLogger({ serviceName: 'agentmesh', logLevel: 'info', format: 'json', destination: out.stream });
    log.child({ component: 'api' }).info(
      { headers: { authorization: 'Bearer am_topsecret' }, apiKey: 'am_topsecret2', created: { key: 'am_topsecret3', id: 'k1' }, config: { password: 'pw', adminKey: 'am_admin' } },
      'hello',
    );
    const [line] = out.lines;
    expect(line).toMatchObject({ service: 'agentmesh', component: 'api', msg: 'hello', created: { id: 'k1', key: REDACTED }, apiKey: REDACTED, headers: { authorization: REDACTED } });
    expect(out.text()).not.toMatch(/topsecret|"pw"|am_admin/);
  });

  it('hides the configured fields too, and drops what is below its level', () => {
    const out = captureLines();
    const log = configureLogger({ serviceName: 'agentmesh', logLevel: 'warn', format: 'json', redactPaths: ['body.input.ssn', 'body.tasks[*].input.ssn'], destination: out.stream });
    log.info({ body: { input: { ssn: '123-45-6789' } } }, 'not written');
    log.warn({ body: { input: { ssn: '123-45-6789', name: 'Ann' }, tasks: [{ input: { ssn: '987-65-4321' } }] } }, 'written');
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]!.body).toEqual({ input: { ssn: REDACTED, name: 'Ann' }, tasks: [{ input: { ssn: REDACTED } }] });
  });

  it('writes pretty lines for a person when asked', () => {
    expect(() => configureLogger({ serviceName: 'agentmesh', logLevel: 'info', format: 'pretty' })).not.toThrow();
  });
});
