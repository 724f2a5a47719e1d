import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureSecretFile, readSecret, secretMatches } from './secrets.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'fg-secrets-'));

describe('secrets', () => {
  it('prefers the variable, then the file it names, else nothing', () => {
    const file = join(dir(), 'token');
    writeFileSync(file, ' from-file \n');
    expect(readSecret({ TOKEN: 'direct', TOKEN_FILE: file }, 'TOKEN')).toBe('direct');
    expect(readSecret({ TOKEN_FILE: file }, 'TOKEN')).toBe('from-file');
    expect(readSecret({}, 'TOKEN')).toBeUndefined();
  });

  it('refuses a named file that is missing or empty, with a config error', () => {
    const empty = join(dir(), 'empty');
    writeFileSync(empty, '\n');
    expect(() => readSecret({ TOKEN_FILE: empty }, 'TOKEN')).toThrow(/empty/);
    expect(() => readSecret({ TOKEN_FILE: join(dir(), 'missing') }, 'TOKEN')).toThrow(/cannot read/);
  });

  it('generates a secret once, readable by its owner only, and returns the same one after', () => {
    const file = join(dir(), 'nested', 'query.secret');
    const first = ensureSecretFile(file);
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(ensureSecretFile(file)).toBe(first);
    expect(readFileSync(file, 'utf8').trim()).toBe(first);
  });
});

describe('secretMatches', () => {
  it('accepts exactly the configured secret as a bearer token', () => {
    expect(secretMatches('Bearer s3cret-token-0123456789', 's3cret-token-0123456789')).toBe(true);
    expect(secretMatches('bearer s3cret-token-0123456789', 's3cret-token-0123456789')).toBe(true);
    expect(secretMatches('Bearer s3cret-token-012345678', 's3cret-token-0123456789')).toBe(false);
    expect(secretMatches('Basic s3cret-token-0123456789', 's3cret-token-0123456789')).toBe(false);
    expect(secretMatches(undefined, 's3cret-token-0123456789')).toBe(false);
  });
});
