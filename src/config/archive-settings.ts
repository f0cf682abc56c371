import { durationSetting, positiveIntSetting, type SettingSpec } from './settings.js';

/** When the archiver closes its files and commits its position (src/archive/archiver.ts). */
export interface ArchiveRollConfig {
  readonly rollIntervalMs: number;
  /** The archiver's memory budget: rows read and not yet rolled, estimated in bytes. */
  readonly rollBytes: number;
}

export const DEFAULT_ARCHIVE_ROLL_INTERVAL_MS = 60_000;
export const DEFAULT_ARCHIVE_ROLL_BYTES = 64 * 1024 * 1024;
/** Below this, rolls would write files of a few hundred rows, each with Parquet's fixed costs. */
const MIN_ARCHIVE_ROLL_BYTES = 1024 * 1024;

const rollInterval = durationSetting(
  'archive-roll-interval',
  'ADTALLY_ARCHIVE_ROLL_INTERVAL',
  'close archive files and commit the archiver at least this often (default 1m)',
);

const rollBytes = positiveIntSetting(
  'archive-roll-bytes',
  'ADTALLY_ARCHIVE_ROLL_BYTES',
  `close archive files once the rows read are estimated at this many bytes of memory (default ${DEFAULT_ARCHIVE_ROLL_BYTES})`,
);

/** The settings `serve` and `worker` share. */
export const ARCHIVE_ROLL_SETTINGS = {
  archiveRollInterval: {
    ...rollInterval,
    parse: (raw: string) => {
      const value = rollInterval.parse(raw);
      return typeof value === 'number' && value <= 0 ? { error: 'must be longer than 0' } : value;
    },
  } satisfies SettingSpec<number>,
  archiveRollBytes: {
    ...rollBytes,
    placeholder: 'BYTES',
    parse: (raw: string) => {
      const value = rollBytes.parse(raw);
      return typeof value === 'number' && value < MIN_ARCHIVE_ROLL_BYTES
        ? { error: `must be at least ${MIN_ARCHIVE_ROLL_BYTES}` }
        : value;
    },
  } satisfies SettingSpec<number>,
};

export function archiveRollConfig(values: {
  archiveRollInterval: number | undefined;
  archiveRollBytes: number | undefined;
}): ArchiveRollConfig {
  return {
    rollIntervalMs: values.archiveRollInterval ?? DEFAULT_ARCHIVE_ROLL_INTERVAL_MS,
    rollBytes: values.archiveRollBytes ?? DEFAULT_ARCHIVE_ROLL_BYTES,
  };
}
