/**
 * Secrets come from the environment or from files, never from argv (visible in `ps`) and
 * never into logs. `NAME` holds the value itself; `NAME_FILE` names a file holding it (the
 * convention of container platforms, and how the local stack hands its generated secrets
 * to the services: files of mode 0600 under `<data dir>/secrets/`).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { FleetgridError } from './errors.ts';

/** The value of `NAME`, else the trimmed content of the file `NAME_FILE` names, else undefined. */
export function readSecret(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name]?.trim();
  if (direct) return direct;
  const file = env[`${name}_FILE`]?.trim();
  if (!file) return undefined;
  return readSecretFile(file, `${name}_FILE`);
}

/** The trimmed content of a secret file; a missing or empty file is a configuration error. */
export function readSecretFile(path: string, what = path): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new FleetgridError('CONFIG_INVALID', `${what}: cannot read the secret file`, { cause: error });
  }
  if (!text) throw new FleetgridError('CONFIG_INVALID', `${what}: the secret file is empty`);
  return text;
}

/**
 * The secret stored at `path`, generated on first use (32 random bytes, base64url) in a
 * file only its owner can read. Two processes racing to create it agree: the loser of the
 * exclusive create reads the winner's file.
 */
export function ensureSecretFile(path: string): string {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new FleetgridError('CONFIG_INVALID', `cannot create the secret file ${path}`, { cause: error });
    }
  }
  // An existing file may have been created by hand with a looser mode: tighten it.
  chmodSync(path, 0o600);
  return readSecretFile(path);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/**
 * Whether an `Authorization: Bearer <value>` header carries `secret`. Compared in constant
 * time over SHA-256 digests of both sides, so neither the content nor the length leaks.
 */
export function secretMatches(authorization: string | undefined, secret: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!m) return false;
  return timingSafeEqual(sha256(m[1] as string), sha256(secret));
}
