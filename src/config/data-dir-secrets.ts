import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from './settings.js';

export interface Secrets {
  readonly secret: string;
  readonly adminToken: string;
}

const FILE = 'secrets.json';

/**
 * The token-signing secret and admin token of an embedded install: generated
 * once, kept in `<dataDir>/secrets.json` (mode 0600) and reused on every start.
 * Values given through the environment win and are never written.
 * Returns which of them were generated here or read from the file.
 */
export async function loadOrCreateSecrets(
  dataDir: string,
  given: { secret: string | undefined; adminToken: string | undefined },
): Promise<Secrets & { fromDataDir: boolean; path: string }> {
  const path = join(dataDir, FILE);
  await mkdir(dataDir, { recursive: true });
  let stored: Secrets;
  try {
    stored = parseSecrets(await readFile(path, 'utf8'), path);
    const mode = (await stat(path)).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new ConfigError(`${path} is readable by others (mode ${mode.toString(8)}); run chmod 600 on it`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    stored = {
      secret: randomBytes(32).toString('base64url'),
      adminToken: `adm_${randomBytes(24).toString('base64url')}`,
    };
    // 'wx': never overwrite a file another process created in the meantime.
    const handle = await open(path, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(stored, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  return {
    secret: given.secret ?? stored.secret,
    adminToken: given.adminToken ?? stored.adminToken,
    fromDataDir: given.adminToken === undefined,
    path,
  };
}

function parseSecrets(text: string, path: string): Secrets {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(`${path} is not valid JSON; restore it or remove it to generate new secrets`);
  }
  const v = value as Partial<Record<keyof Secrets, unknown>>;
  if (
    typeof v.secret !== 'string' ||
    v.secret.length < 16 ||
    typeof v.adminToken !== 'string' ||
    v.adminToken.length < 16
  ) {
    throw new ConfigError(`${path} must hold "secret" and "adminToken" strings of at least 16 characters`);
  }
  return { secret: v.secret, adminToken: v.adminToken };
}
