import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/sdk/index.js';
import { eventually, startHarness, type Harness } from '../../support/mesh-harness.js';
import { prometheusTools } from '../../support/prometheus.js';

const DEPLOY = new URL('../../../deploy/', import.meta.url).pathname;
const DASHBOARDS = join(DEPLOY, 'grafana/dashboards');

/** Panels that must show data once the mesh has done some work. */
const CORE_PANELS = [
  'Instances up',
  'Leader',
  'Tasks completed /s',
  'Active agents',
  'Task throughput',
  'Wait for an agent, p50 / p99',
  'Submitted by capability',
  'Routed by strategy',
  'Execution time p50 / p99, by capability',
  'Active agents by tenant',
  'Requests by route',
  'Resident memory',
  'Cache hit rate by tier and kind',
  'Cache load time p99 by kind',
  'Cache L1 size',
];

interface Panel {
  title: string;
  targets: Array<{ expr: string }>;
}

/** Every panel of every shipped dashboard, with Grafana's variables filled in as Grafana would. */
function dashboardPanels(): Array<{ dashboard: string; panel: Panel }> {
  return readdirSync(DASHBOARDS).flatMap((file) => {
    const dashboard = JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) as { title: string; panels: Panel[] };
    return dashboard.panels.map((panel) => ({ dashboard: dashboard.title, panel }));
  });
}
const grafanaVariables = (expr: string) => expr.replaceAll('$__rate_interval', '20s').replaceAll('$tenant', '.*');

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** The shipped Prometheus config, rules and Grafana dashboards, checked by promtool and evaluated by a real Prometheus scraping a mesh. */
describe.skipIf(prometheusTools === null)('deploy/: Prometheus config, alert rules and Grafana dashboards', () => {
  const tools = prometheusTools!;

  it('passes promtool check config and check rules', async () => {
    const run = promisify(execFile);
    await expect(run(tools.promtool, ['check', 'config', join(DEPLOY, 'prometheus/prometheus.yml')])).resolves.toBeDefined();
    const rules = await run(tools.promtool, ['check', 'rules', join(DEPLOY, 'prometheus/alerts.yml')]);
    expect(rules.stdout).toMatch(/SUCCESS: 14 rules found/);
  });

  describe('against a running mesh', () => {
    let h: Harness;
    let prometheus: ChildProcess;
    let promUrl: string;
    let dir: string;
    const query = async (expr: string) => {
      const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
      return (await res.json()) as { status: string; error?: string; data: { result: unknown[] } };
    };

    beforeAll(async () => {
      h = await startHarness({ AGENTMESH_METRICS_PORT: '0', AGENTMESH_RETRY_BASE_MS: '10', AGENTMESH_RETRY_CAP_MS: '20' });
      dir = mkdtempSync(join(tmpdir(), 'agentmesh-prometheus-'));
      const target = new URL(h.running.metricsUrl!).host;
      writeFileSync(
        join(dir, 'prometheus.yml'),
        [
          'global: { scrape_interval: 1s, evaluation_interval: 1s }',
          `rule_files: ['${join(DEPLOY, 'prometheus/alerts.yml')}']`,
          'scrape_configs:',
          `  - { job_name: agentmesh, metrics_path: /metrics, static_configs: [{ targets: ['${target}'] }] }`,
        ].join('\n'),
      );
      const port = await freePort();
      promUrl = `http://127.0.0.1:${port}`;
      prometheus = spawn(tools.server, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
      await eventually(() => fetch(`${promUrl}/-/ready`).then((r) => r.ok), 20_000, 'Prometheus to be ready');

      // Some of everything: completions, a dead letter, a few requests.
      const worker = await new Agent({ url: h.url, apiKey: h.adminKey, name: 'scraped', capabilities: ['scraped', 'doomed'], heartbeatIntervalMs: 200, maxConcurrentTasks: 4 })
        .handle('scraped', async () => 'ok')
        .handle('doomed', async () => {
          throw new Error('always fails');
        })
        .start();
      try {
        for (let round = 0; round < 4; round++) {
          await Promise.all(Array.from({ length: 5 }, (_, i) => h.admin.run('scraped', { round, i }, { timeoutMs: 5000 })));
          await new Promise((r) => setTimeout(r, 1000));
        }
        // The agent's registration started its capabilities' series at 0: once Prometheus has that,
        // the first dead letter is an increase it can see.
        await eventually(async () => ((await query('agentmesh_tasks_dead_lettered_total{capability="doomed"} == 0')).data.result.length > 0 ? true : undefined), 20_000, 'the dead-letter series at 0');
        await h.admin.run('doomed', {}, { maxAttempts: 2, timeoutMs: 5000 });
        // Rates need a few scrapes after the work.
        await eventually(async () => ((await query('sum(rate(agentmesh_tasks_completed_total[20s]))')).data.result.length > 0 ? true : undefined), 20_000, 'rates to have data');
      } finally {
        await worker.stop();
      }
    }, 90_000);
    afterAll(async () => {
      prometheus?.kill('SIGTERM');
      await h?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('evaluates every dashboard panel without error, and the core panels have data', async () => {
      const panels = dashboardPanels();
      expect(panels.length).toBeGreaterThanOrEqual(20);
      const empty: string[] = [];
      for (const { dashboard, panel } of panels) {
        for (const target of panel.targets) {
          const result = await query(grafanaVariables(target.expr));
          expect(result.status, `${dashboard} / ${panel.title}: ${target.expr}: ${result.error}`).toBe('success');
          if (CORE_PANELS.includes(panel.title) && result.data.result.length === 0) empty.push(`${dashboard} / ${panel.title}: ${target.expr}`);
        }
      }
      // A panel with several targets counts as showing data when one of them does.
      const emptyPanels = CORE_PANELS.filter((title) => {
        const targets = panels.filter((p) => p.panel.title === title).flatMap((p) => p.panel.targets.map((t) => `${p.dashboard} / ${title}: ${t.expr}`));
        return targets.length > 0 && targets.every((t) => empty.includes(t));
      });
      expect(emptyPanels).toEqual([]);
      expect(CORE_PANELS.every((title) => panels.some((p) => p.panel.title === title))).toBe(true);
    });

    it('evaluates every alert rule without error, and fires the dead-letter alert', async () => {
      await eventually(
        async () => {
          const { data } = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string; state: string }> }> } };
          const rules = data.groups.flatMap((g) => g.rules);
          // Every rule has been evaluated at least once by now.
          if (rules.some((r) => r.health === 'unknown')) return undefined;
          expect(rules).toHaveLength(14);
          for (const rule of rules) expect(rule.health, `${rule.name}: ${rule.lastError}`).toBe('ok');
          return rules.find((r) => r.name === 'AgentMeshDeadLettersGrowing')?.state === 'firing' ? true : undefined;
        },
        30_000,
        'every rule evaluated, and dead letters alerting',
      );
    }, 40_000);
  });
});
