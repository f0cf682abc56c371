/**
 * Faults of an event log. Each says whether retrying can help (`retriable`),
 * so one retry helper can decide without knowing the backend. Invalid input
 * (an empty or oversize payload) is a RangeError: a bug in the caller.
 */
export abstract class LogError extends Error {
  abstract readonly retriable: boolean;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The write or fsync of the batch holding this append failed. The record may
 * or may not be in the log (the bytes may have reached the disk); a retry
 * after reopening the log can succeed, and downstream dedup absorbs a copy.
 */
export class LogWriteError extends LogError {
  readonly retriable = true;
}

/**
 * An earlier write or fsync failed, so this log instance refuses appends.
 * Reopening the log (which runs recovery) is the way out; retrying on this
 * instance never helps.
 */
export class LogPoisonedError extends LogError {
  readonly retriable = false;
}

/** The log was closed (or is closing); appends and reads are refused. */
export class LogClosedError extends LogError {
  readonly retriable = false;
}

/**
 * Durable data failed its checks: a bad CRC, a frame cut short inside durable
 * data, or segments whose sizes and names disagree. Names the file and the
 * position so an operator can look; never silently skipped.
 */
export class LogCorruptError extends LogError {
  readonly retriable = false;

  constructor(
    message: string,
    readonly file: string,
    readonly position: number,
    options?: ErrorOptions,
  ) {
    super(`${message} (${file} at byte ${position})`, options);
  }
}
