import { ConfigError } from '../config/settings.js';
import { parseServeConfig, serveHelp } from '../config/serve-config.js';
import { benchHelp, parseBenchOptions } from '../bench/bench-config.js';
import { rewriteReport, runBench, writeBenchOutputs } from '../bench/bench.js';
import { parseLoadgenOptions, loadgenHelp } from '../loadgen/loadgen-config.js';
import { formatSummary, runLoadgen } from '../loadgen/loadgen.js';
import {
  clusterHelp,
  parseApiConfig,
  parseCollectorConfig,
  parseWorkerConfig,
  type ClusterRole,
} from '../config/cluster-config.js';
import { parseReconcileConfig, reconcileHelp } from '../config/reconcile-config.js';
import { planCapacity } from '../plan/capacity-plan.js';
import { parsePlanOptions, planHelp } from '../plan/plan-config.js';
import { planText } from '../plan/plan-text.js';
import { readMeasuredFigures } from '../plan/measured-figures.js';
import { startApi } from './api.js';
import { runReconcile } from './reconcile.js';
import { startCollector } from './collector.js';
import type { RunningProcess } from './running-process.js';
import { startServe } from './serve.js';
import { startWorker } from './worker.js';

const USAGE = `usage: adtally <command> [options]

commands:
  serve     the whole pipeline in one process on embedded backends
  collector tracking routes only, appending to Kafka (run many)
  worker    aggregation, one member of a Kafka consumer group (run many)
  api       catalog and query API over PostgreSQL
  reconcile recompute the aggregates from the raw archive and repair the store
  loadgen   traffic generator and exactness oracle against a running adtally
  bench     the benchmark scenarios, with a report
  plan      the deployment shape a load needs, from the measured figures

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
  return runUntilSignal(() => startServe(config, print));
}

/** Starts a process and runs it until SIGTERM or SIGINT, then stops it cleanly (exit 0). */
async function runUntilSignal(start: () => Promise<Pick<RunningProcess, 'shutdown'>>): Promise<number> {
  // Handlers first: a SIGTERM that lands while starting still gets a clean stop once started.
  const stopRequested = new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      print(`adtally: ${signal} received, shutting down`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  const running = await start();
  await stopRequested;
  await running.shutdown();
  print('adtally: stopped');
  return 0;
}

const CLUSTER_COMMANDS: Record<ClusterRole, (argv: string[]) => (() => Promise<RunningProcess>) | 'help'> = {
  collector: (argv) => {
    const config = parseCollectorConfig(argv, process.env);
    return config === 'help' ? 'help' : () => startCollector(config, print);
  },
  worker: (argv) => {
    const config = parseWorkerConfig(argv, process.env);
    return config === 'help' ? 'help' : () => startWorker(config, print);
  },
  api: (argv) => {
    const config = parseApiConfig(argv, process.env);
    return config === 'help' ? 'help' : () => startApi(config, print);
  },
};

async function cluster(role: ClusterRole, argv: string[]): Promise<number> {
  const start = CLUSTER_COMMANDS[role](argv);
  if (start === 'help') {
    print(clusterHelp(role));
    return 0;
  }
  return runUntilSignal(start);
}

/** Exit status 0 when the range was reconciled (whatever it repaired), 1 when it could not be. */
async function reconcile(argv: string[]): Promise<number> {
  const config = parseReconcileConfig(argv, process.env, Date.now());
  if (config === 'help') {
    print(reconcileHelp());
    return 0;
  }
  return runReconcile(config, print);
}

/** Exit status 0 when the run was checked and exact (or not checked), 1 when counts differ. */
async function loadgen(argv: string[]): Promise<number> {
  const options = parseLoadgenOptions(argv, process.env);
  if (options === 'help') {
    print(loadgenHelp());
    return 0;
  }
  const progress = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const summary = await runLoadgen(options, progress);
  print(options.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
  return summary.check === undefined || summary.exact ? 0 : 1;
}

/** Exit status 0 when every scenario ran (whatever the figures), 1 when one failed to run. */
async function bench(argv: string[]): Promise<number> {
  const options = parseBenchOptions(argv);
  if (options === 'help') {
    print(benchHelp());
    return 0;
  }
  if (options.reportFrom !== undefined) {
    const docs = await rewriteReport(options.reportFrom, options.docsPath ?? 'docs/BENCHMARKS.md');
    print(`report: ${docs}`);
    return 0;
  }
  const result = await runBench(options, (line) => process.stderr.write(`bench: ${line}\n`));
  const { resultFile, docsFile } = await writeBenchOutputs(result, options);
  const { scenarios: _runs, machine: _machine, ...headline } = result;
  print(JSON.stringify(headline, null, 2));
  print(`result: ${resultFile}${docsFile === undefined ? '' : `, report: ${docsFile}`}`);
  return 0;
}

/** Prints the capacity plan for the given load (the lab's model, as text or JSON). */
async function plan(argv: string[]): Promise<number> {
  const options = parsePlanOptions(argv);
  if (options === 'help') {
    print(planHelp());
    return 0;
  }
  const figures = await readMeasuredFigures(options.resultsDir);
  const answer = planCapacity(options.inputs, figures);
  print(options.json ? JSON.stringify({ plan: answer, figures }, null, 2) : planText(answer, figures));
  return 0;
}

/** Entry point of the `adtally` bin; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'collector':
      case 'worker':
      case 'api':
        return await cluster(command, rest);
      case 'reconcile':
        return await reconcile(rest);
      case 'loadgen':
        return await loadgen(rest);
      case 'bench':
        return await bench(rest);
      case 'plan':
        return await plan(rest);
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
