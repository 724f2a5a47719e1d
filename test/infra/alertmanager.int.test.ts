/**
 * Issue 14: the stack's Alertmanager (Debian's prometheus-alertmanager) runs on loopback with
 * basic auth and no cluster port, its configuration passes `amtool check-config`, and
 * Prometheus delivers alerts to it with the credentials of the generated password file.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { eventually, freePorts } from '../support/index.ts';
import { removeDir } from '../support/index.ts';

const run = promisify(execFile);
const dataRoot = process.env.FLEETGRID_DATA_DIR ?? join(PROJECT_ROOT, '.data');
const PORT = process.env.STACK_ALERTMANAGER_PORT ?? '9095';
const PROMETHEUS_PORT = process.env.STACK_PROMETHEUS_PORT ?? '9090';
const URL = `http://127.0.0.1:${PORT}`;
const password = () => readFileSync(join(dataRoot, 'secrets', 'alertmanager.password'), 'utf8').trim();
const auth = (secret = password()) => ({
  authorization: `Basic ${Buffer.from(`fleetgrid:${secret}`).toString('base64')}`,
});

describe('Alertmanager (the stack)', () => {
  const cleanups: (() => void)[] = [];
  afterAll(() => {
    for (const cleanup of cleanups) cleanup();
  });

  it('its configuration passes amtool check-config', async () => {
    const { stdout } = await run('amtool', [
      'check-config',
      join(PROJECT_ROOT, 'infra/alertmanager/alertmanager.yml'),
    ]);
    expect(stdout).toContain('SUCCESS');
    expect(stdout).toMatch(/5 receivers/);
  });

  // The shipped routing tree (docs/alerts.md "Routing"): by severity and site for the
  // notifier's alerts (source="fleetgrid"), the platform receiver for Prometheus' own.
  it.each([
    [
      ['source=fleetgrid', 'severity=warning', 'siteId=depot-lyon', 'alertname=truck.overspeed'],
      'fleetgrid-fleet',
    ],
    [['source=fleetgrid', 'severity=critical', 'siteId=depot-lyon'], 'fleetgrid-oncall,fleetgrid-fleet'],
    [['source=fleetgrid', 'severity=warning', 'siteId=wf-roscoe'], 'fleetgrid-wind'],
    [['source=fleetgrid', 'severity=critical', 'siteId=wf-roscoe'], 'fleetgrid-oncall,fleetgrid-wind'],
    [['source=fleetgrid', 'severity=critical', 'siteId=pv-almeria'], 'fleetgrid-oncall,fleetgrid-solar'],
    [['source=fleetgrid', 'severity=info', 'siteId=depot-lyon'], 'fleetgrid-fleet'],
    [
      ['alertname=FleetgridServiceDown', 'severity=page', 'job=fleetgrid-sink', 'system=fleetgrid'],
      'fleetgrid-platform',
    ],
    [['alertname=FleetgridDataStale', 'severity=page', 'source=truck_telemetry'], 'fleetgrid-platform'],
  ])('amtool config routes test %j → %s', async (labels, receivers) => {
    const { stdout } = await run('amtool', [
      'config',
      'routes',
      'test',
      `--config.file=${join(PROJECT_ROOT, 'infra/alertmanager/alertmanager.yml')}`,
      ...labels,
    ]);
    expect(stdout.trim()).toBe(receivers);
  });

  it('answers only with the generated password, on loopback, with clustering off', async () => {
    expect((await fetch(`${URL}/api/v2/status`)).status).toBe(401);
    expect((await fetch(`${URL}/api/v2/status`, { headers: auth('not-the-password') })).status).toBe(401);
    const response = await fetch(`${URL}/api/v2/status`, { headers: auth() });
    expect(response.status).toBe(200);
    const status = (await response.json()) as { cluster: { status: string } };
    expect(status.cluster.status).toBe('disabled');
    const { stdout } = await run('ss', ['-ltnpH']);
    const sockets = stdout.split('\n').filter((line) => line.includes('prometheus-aler'));
    expect(sockets.length).toBeGreaterThan(0);
    for (const socket of sockets) expect(socket).toMatch(/\s127\.0\.0\.1:\d+\s/);
  });

  it("is the stack Prometheus' Alertmanager", async () => {
    const body = (await fetch(`http://127.0.0.1:${PROMETHEUS_PORT}/api/v1/alertmanagers`).then((r) =>
      r.json(),
    )) as {
      data: { activeAlertmanagers: { url: string }[] };
    };
    expect(body.data.activeAlertmanagers.map((am) => am.url)).toContain(`${URL}/api/v2/alerts`);
  });

  it("receives an alert from a Prometheus that uses the stack's alerting settings (basic auth from the file)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-am-prom-'));
    let prometheus: ChildProcess | undefined;
    cleanups.push(() => {
      prometheus?.kill('SIGKILL');
      removeDir(dir);
    });
    // The alerting section exactly as stack.sh rendered it for the running Prometheus.
    const rendered = readFileSync(join(dataRoot, 'stack', 'prometheus', 'prometheus.yml'), 'utf8');
    const alerting = /^alerting:\n(?:[ #].*\n|\n)*/m.exec(rendered)?.[0];
    expect(alerting).toContain('password_file:');
    const marker = `smoke-${process.pid}-${Date.now()}`;
    writeFileSync(
      join(dir, 'rules.yml'),
      `groups:\n  - name: smoke\n    rules:\n      - alert: FleetgridAlertmanagerSmoke\n        expr: vector(1)\n        labels: { severity: none, marker: "${marker}" }\n`,
    );
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  evaluation_interval: 1s\nrule_files: ["${join(dir, 'rules.yml')}"]\n${alerting}`,
    );
    const [port] = (await freePorts(1)) as [number];
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // The first send may come before the Alertmanager is discovered: resend soon.
        '--rules.alert.resend-delay=1s',
      ],
      { stdio: 'ignore' },
    );
    const delivered = await eventually('the smoke alert in Alertmanager', async () => {
      const alerts = (await fetch(`${URL}/api/v2/alerts?filter=marker%3D%22${marker}%22`, {
        headers: auth(),
      }).then((r) => r.json())) as { labels: Record<string, string> }[];
      return alerts.length > 0 ? alerts : undefined;
    });
    expect(delivered[0]?.labels.alertname).toBe('FleetgridAlertmanagerSmoke');
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/prometheus_notifications_sent_total\{alertmanager="[^"]+"\} [1-9]/);
    expect(metrics).toMatch(/prometheus_notifications_errors_total\{alertmanager="[^"]+"\} 0/);
  });
});
