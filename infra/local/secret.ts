/**
 * `node infra/local/secret.ts PATH...`: makes sure each secret file exists (generated on
 * first use, mode 0600), with lib/secrets.ts's rule, so stack.sh and the services agree on
 * how local secrets look. Prints nothing: a secret never reaches stdout or argv.
 */
import { ensureSecretFile } from '../../lib/secrets.ts';

for (const path of process.argv.slice(2)) ensureSecretFile(path);
