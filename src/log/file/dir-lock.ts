import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Another live process holds the log directory. */
export class LogLockedError extends Error {
  override readonly name = 'LogLockedError';
  readonly retriable = false;
}

/** Directories this process holds: a LOCK naming our own pid is ours only if listed here. */
const heldHere = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<dir>/LOCK` for this process. Two writers on one log would both run
 * recovery and append at the same positions; a lock left by a process that
 * died (kill -9) names a dead pid and is taken over. A lock naming this very
 * process's pid is stale unless this process took it (after a restart in a
 * container the new process often gets the dead one's pid, typically 1).
 */
export async function lockDirectory(dir: string): Promise<{ release: () => Promise<void> }> {
  const path = join(dir, 'LOCK');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      heldHere.add(path);
      return {
        release: async () => {
          heldHere.delete(path);
          await rm(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      const ours = holder === process.pid;
      if (Number.isInteger(holder) && holder > 0 && (ours ? heldHere.has(path) : isAlive(holder))) {
        throw new LogLockedError(`event log ${dir} is in use by process ${holder}`);
      }
      await rm(path, { force: true });
    }
  }
  throw new LogLockedError(`could not take the lock of event log ${dir}`);
}
