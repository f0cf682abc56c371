import { spawn, type ChildProcess } from 'node:child_process';

/** A server the benchmark runs in a process of its own, so it never shares an event loop with the load. */
export interface ChildServer {
  readonly url: string;
  readonly pid: number;
  /** SIGTERM, then waits for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** Resolves once the server has printed a line matching `pattern`. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;

/** Spawns `node <args>` and resolves once it prints "listening on http://…". */
export async function startChildServer(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<ChildServer> {
  const child = spawn(process.execPath, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  let output = '';
  const url = await new Promise<string>((ready, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`server did not start in ${START_TIMEOUT_MS} ms:\n${output}`)),
      START_TIMEOUT_MS,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        ready(match[1]!);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
  const waitForOutput = (pattern: RegExp, timeoutMs: number): Promise<void> =>
    new Promise((done, fail) => {
      const check = (): boolean => pattern.test(output);
      if (check()) return done();
      const timer = setTimeout(() => {
        child.stdout.off('data', onData);
        child.stderr.off('data', onData);
        fail(new Error(`server did not print ${String(pattern)} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onData = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stderr.off('data', onData);
        done();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
    });
  return { url, pid: child.pid!, stop: () => stopChild(child, exited), waitForOutput };
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
