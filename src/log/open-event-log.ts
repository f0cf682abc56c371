import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventLog } from './event-log.js';
import { openFileEventLog, type FileEventLogOptions } from './file/file-event-log.js';

/** The event log URL names a backend this build does not have. */
export class UnsupportedBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedBackendError';
  }
}

export type OpenEventLogOptions = Omit<FileEventLogOptions, 'io'>;

/** Where a log URL points; one variant per backend. */
export type EventLogLocation = { readonly backend: 'file'; readonly dir: string };

/**
 * Parses an event log URL. `file:<dir>` takes a path as written, relative to
 * the working directory (`file:./data/log`, `file:/abs/path`); `file://` is a
 * standard file URL (`file:///abs/path`, percent-decoded).
 */
export function parseEventLogUrl(url: string): EventLogLocation {
  if (!url.startsWith('file:')) {
    throw new UnsupportedBackendError(
      `unsupported event log URL "${url}": expected file:<dir> (kafka:// comes later)`,
    );
  }
  let path: string;
  if (url.startsWith('file://')) {
    try {
      path = fileURLToPath(url);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`invalid event log URL "${url}": ${reason} (use file:///abs/path or file:./relative)`);
    }
  } else {
    path = url.slice('file:'.length);
  }
  if (path === '') throw new Error(`invalid event log URL "${url}": the directory is empty`);
  return { backend: 'file', dir: resolve(path) };
}

/** Opens the event log a URL names; only `file:` exists for now. */
export async function openEventLog(url: string, options: OpenEventLogOptions = {}): Promise<EventLog> {
  const location = parseEventLogUrl(url);
  return openFileEventLog(location.dir, options);
}
