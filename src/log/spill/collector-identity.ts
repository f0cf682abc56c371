import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * This collector's id, made once and kept in its data directory with its
 * spill log: the origin of every record it forwards is `<id>/<spill offset>`,
 * so the id must outlive restarts (a replayed forward must carry the same
 * origin) and differ between collectors.
 */
export async function collectorIdentity(dataDir: string): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, 'collector-id');
  try {
    const id = (await readFile(path, 'utf8')).trim();
    if (!/^[0-9a-f]{16}$/.test(id)) throw new Error(`${path} holds "${id.slice(0, 40)}", not a collector id`);
    return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = randomBytes(8).toString('hex');
  // 'wx': two collectors started on one data dir at once do not both take a fresh id.
  const file = await open(path, 'wx');
  try {
    await file.writeFile(`${id}\n`);
    await file.datasync();
  } finally {
    await file.close();
  }
  return id;
}
