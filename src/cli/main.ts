import { ConfigError } from '../config/settings.js';
import { parseServeConfig, serveHelp } from '../config/serve-config.js';
import { startServe } from './serve.js';

const USAGE = `usage: adtally <command> [options]

commands:
  serve     the whole pipeline in one process on embedded backends

run "adtally <command> --help" for a command's options.`;

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function serve(argv: string[]): Promise<number> {
  const config = parseServeConfig(argv, process.env);
  if (config === 'help') {
    print(
      serveHelp('serve', 'Runs collector, event log, catalog and API in one process with embedded backends.'),
    );
    return 0;
  }
  // Handlers first: a SIGTERM that lands while starting still gets a clean stop once started.
  const stopRequested = new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      print(`adtally: ${signal} received, shutting down`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  const running = await startServe(config, print);
  await stopRequested;
  await running.shutdown();
  print('adtally: stopped');
  return 0;
}

/** Entry point of the `adtally` bin; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        print(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`adtally: unknown command "${command}" (run "adtally --help")\n`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`adtally: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`adtally: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}
