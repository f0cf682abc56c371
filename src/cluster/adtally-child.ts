import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** The `adtally` bin of this checkout (dist/src/cluster/ -> bin/). */
export const ADTALLY_BIN = resolve(import.meta.dirname, '../../../bin/adtally.js');

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * One adtally process (collector, worker, api...) started by the local
 * cluster, on a free port: ready once it printed "listening on <url>". Its
 * output is kept (the last 200 kB) for when a test fails.
 */
export class AdtallyChild {
  private output = '';

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly url: string,
    readonly exited: Promise<ChildExit>,
  ) {}

  static async start(
    name: string,
    args: readonly string[],
    env: Record<string, string>,
    onLine?: (line: string) => void,
  ): Promise<AdtallyChild> {
    const child = spawn(process.execPath, [ADTALLY_BIN, ...args, '--port', '0'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<ChildExit>((done) =>
      child.once('exit', (code, signal) => done({ code, signal })),
    );
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-200_000);
      if (onLine !== undefined)
        for (const line of chunk.toString().split('\n')) if (line !== '') onLine(`${name}: ${line}`);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const url = await new Promise<string>((ready, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`${name} did not start within 30 s:\n${output}`)),
        30_000,
      );
      const onData = (): void => {
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match !== null) {
          clearTimeout(timer);
          child.stdout.off('data', onData);
          ready(match[1]!);
        }
      };
      child.stdout.on('data', onData);
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        fail(new Error(`${name} exited (${code ?? signal}) before listening:\n${output}`));
      });
    });
    const started = new AdtallyChild(name, child, url, exited);
    started.output = output;
    child.stdout.on(
      'data',
      (c: Buffer) => (started.output = (started.output + c.toString()).slice(-200_000)),
    );
    child.stderr.on(
      'data',
      (c: Buffer) => (started.output = (started.output + c.toString()).slice(-200_000)),
    );
    return started;
  }

  get log(): string {
    return this.output;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM (a clean stop), then the exit status. */
  stop(): Promise<ChildExit> {
    this.signal('SIGTERM');
    return this.exited;
  }

  /** SIGKILL: what a crash looks like. */
  async kill(): Promise<ChildExit> {
    this.signal('SIGKILL');
    return this.exited;
  }
}
