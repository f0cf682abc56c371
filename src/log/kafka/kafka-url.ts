import { ConfigError } from '../../config/settings.js';

/** A Kafka topic as an event log (`kafka://host:port[,host:port...]/topic?partitions=N&spread=S&hot=R`). */
export interface KafkaLogLocation {
  readonly backend: 'kafka';
  /** host:port of each bootstrap broker, as written. */
  readonly bootstrap: readonly string[];
  readonly topic: string;
  /** The topic's partition count; default 6. */
  readonly partitions: number;
  /** Partitions a hot ad is spread over, 1 to `partitions`; default min(4, partitions) (the appender's). */
  readonly spread?: number;
  /** Events/s over which an ad is hot; default 1000 (the appender's). */
  readonly hotThreshold?: number;
}

export const DEFAULT_KAFKA_PARTITIONS = 6;
const MAX_PARTITIONS = 10_000;
// Kafka's own rule for topic names: at most 249 of these characters.
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
const PARAMS = new Set(['partitions', 'spread', 'hot']);

/** Parses a kafka:// event log URL; anything malformed is a ConfigError naming the part at fault. */
export function parseKafkaLogUrl(url: string): KafkaLogLocation {
  const bad = (why: string): ConfigError =>
    new ConfigError(
      `invalid event log URL "${url}": ${why} (expected kafka://host:port[,host:port]/topic?partitions=N)`,
    );
  if (!url.startsWith('kafka://')) throw bad('a Kafka URL starts with kafka://');
  const rest = url.slice('kafka://'.length);
  const slash = rest.indexOf('/');
  if (slash < 0) throw bad('no topic');
  const hosts = rest.slice(0, slash);
  const [path = '', query = '', ...more] = rest.slice(slash + 1).split('?');
  if (more.length > 0) throw bad('more than one "?"');
  if (hosts === '') throw bad('no broker');
  const bootstrap = hosts.split(',');
  for (const hostPort of bootstrap) {
    const match = HOST_PORT.exec(hostPort);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) throw bad(`broker "${hostPort}" is not host:port`);
  }
  let topic: string;
  try {
    topic = decodeURIComponent(path);
  } catch {
    throw bad(`topic "${path}" is not percent-encoded correctly`);
  }
  if (!TOPIC.test(topic)) throw bad(`topic "${topic}" is not 1-249 of [A-Za-z0-9._-]`);
  const params = new URLSearchParams(query);
  for (const key of params.keys()) {
    if (!PARAMS.has(key)) throw bad(`unknown parameter "${key}" (known: partitions, spread, hot)`);
    if (params.getAll(key).length > 1) throw bad(`parameter "${key}" given twice`);
  }
  const integer = (key: string, min: number, max: number): number | undefined => {
    const text = params.get(key);
    if (text === null) return undefined;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max)
      throw bad(`${key}=${text} is not an integer ${min}-${max}`);
    return value;
  };
  const partitions = integer('partitions', 1, MAX_PARTITIONS) ?? DEFAULT_KAFKA_PARTITIONS;
  const spread = integer('spread', 1, partitions);
  const hotText = params.get('hot');
  let hotThreshold: number | undefined;
  if (hotText !== null) {
    hotThreshold = Number(hotText);
    if (hotText.trim() === '' || !Number.isFinite(hotThreshold) || hotThreshold <= 0) {
      throw bad(`hot=${hotText} is not a rate > 0 (events/s)`);
    }
  }
  return {
    backend: 'kafka',
    bootstrap,
    topic,
    partitions,
    ...(spread !== undefined ? { spread } : {}),
    ...(hotThreshold !== undefined ? { hotThreshold } : {}),
  };
}
