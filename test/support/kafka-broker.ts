import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** scripts/services/kafka.sh, which fetches, formats, starts and stops a single-node broker. */
export const KAFKA_SCRIPT = resolve(import.meta.dirname, '../../../scripts/services/kafka.sh');

/** A broker of a test's own (its own state dir under tmp), for tests that stop, restart or kill it. */
export interface KafkaBroker {
  /** 127.0.0.1:PORT; the same across stop/start. */
  readonly bootstrap: string;
  readonly stateDir: string;
  /** SIGTERM, then SIGKILL after the script's timeout. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** SIGKILL: no clean shutdown. */
  kill(): Promise<void>;
  /** Stops it and deletes its state dir. */
  remove(): Promise<void>;
}

async function script(command: 'start' | 'stop', stateDir: string): Promise<string> {
  const { stdout } = await run('bash', [KAFKA_SCRIPT, command, stateDir], { timeout: 180_000 });
  return stdout.trim();
}

export async function startKafkaBroker(): Promise<KafkaBroker> {
  const stateDir = mkdtempSync(join(tmpdir(), 'adtally-kafka-'));
  const bootstrap = await script('start', stateDir);
  return {
    bootstrap,
    stateDir,
    stop: async () => {
      await script('stop', stateDir);
    },
    start: async () => {
      const again = await script('start', stateDir);
      if (again !== bootstrap) throw new Error(`broker restarted on ${again}, not ${bootstrap}`);
    },
    kill: async () => {
      const pid = Number(readFileSync(join(stateDir, 'pid'), 'utf8'));
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        return; // already gone
      }
      while (isAlive(pid)) await new Promise((r) => setTimeout(r, 50));
    },
    remove: async () => {
      await script('stop', stateDir);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
