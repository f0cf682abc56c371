/** A started adtally process (serve, collector, worker, api): what the CLI and tests hold. */
export interface RunningProcess {
  readonly url: string;
  /** Stops in reverse order of opening: HTTP first, then what it depended on. */
  shutdown(): Promise<void>;
}

/**
 * Runs `open`, which pushes a closer for each thing it opens. If it fails
 * midway (a port taken, a backend down), what was opened is closed in reverse
 * and the error rethrown; else the closers become the process's shutdown.
 */
export async function openInOrder(
  open: (opened: (() => Promise<void>)[]) => Promise<string>,
): Promise<RunningProcess> {
  const opened: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const close of opened.splice(0).reverse()) await close();
  };
  let url: string;
  try {
    url = await open(opened);
  } catch (err) {
    for (const close of opened.splice(0).reverse()) await close().catch(() => undefined);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return { url, shutdown: () => (stopping ??= closeAll()) };
}
