import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.ts';
import { alertmanagerTarget, parseNotifyConfig } from './config.ts';

describe('parseNotifyConfig', () => {
  it('fills defaults that keep open alerts alive in Alertmanager', () => {
    const config = parseNotifyConfig({});
    expect(config.resendIntervalMs * 3).toBeLessThanOrEqual(config.resolveTimeoutMs);
    expect(config.groupId).toBe('fleetgrid-notify');
  });

  it('refuses a resend interval that would let Alertmanager resolve open alerts, and unknown keys', () => {
    expect(() => parseNotifyConfig({ resolveTimeoutMs: 60_000, resendIntervalMs: 30_000 })).toThrow(
      /resendIntervalMs/,
    );
    expect(() => parseNotifyConfig({ resendIntervalMS: 1 })).toThrow(/resendIntervalMS/);
  });
});

describe('alertmanagerTarget', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fg-notify-config-'));
  // The same environment through lib/config.ts, as `fleetgrid notify` reads it.
  const target = (env: NodeJS.ProcessEnv) =>
    alertmanagerTarget(loadConfig({ ...env, FLEETGRID_DATA_DIR: dataDir }), env);

  it("uses the local stack's password file only for the local Alertmanager", () => {
    const secrets = join(dataDir, 'secrets');
    mkdirSync(secrets, { recursive: true });
    writeFileSync(join(secrets, 'alertmanager.password'), 'local-secret\n');
    expect(target({})).toEqual({
      url: 'http://127.0.0.1:9095',
      auth: { username: 'fleetgrid', password: 'local-secret' },
      publicUrl: 'http://127.0.0.1:8080',
    });
    expect(target({ ALERTMANAGER_URL: 'https://am.example.com/' }).auth).toBeUndefined();
  });

  it('reads the password from ALERTMANAGER_PASSWORD_FILE and refuses credentials in the URL', () => {
    const file = join(dataDir, 'am.password');
    writeFileSync(file, 's3cret\n');
    expect(
      target({
        ALERTMANAGER_URL: 'https://am.example.com',
        ALERTMANAGER_USERNAME: 'ops',
        ALERTMANAGER_PASSWORD_FILE: file,
        API_PUBLIC_URL: 'https://fleet.example.com/',
      }),
    ).toEqual({
      url: 'https://am.example.com',
      auth: { username: 'ops', password: 's3cret' },
      publicUrl: 'https://fleet.example.com',
    });
    expect(() => target({ ALERTMANAGER_URL: 'https://ops:pw@am.example.com' })).toThrow(
      /must not hold credentials/,
    );
    expect(() => target({ ALERTMANAGER_URL: 'ftp://am' })).toThrow(/http/);
  });
});
