#!/usr/bin/env node
// Produce throughput and latency of the Kafka clients we considered, against a
// real broker (scripts/services/kafka.sh start), idempotent with acks=all, into
// a fresh topic of `partitions` partitions. Prints one JSON line per run.
//
// Patterns:
//   single    one message per send, one send in flight (what a naive collector does)
//   inflight  one message per send, `concurrency` sends in flight at once
//   group     `concurrency` loops each awaiting one message after another, joined
//             into one send at a time (the group commit of src/log/kafka): every
//             message arriving while a send is in flight goes in the next one
//
// kafkajs is not a dependency: `npm install --no-save kafkajs@2.2.4` first.
// usage: node scripts/measure/kafka-clients.mjs BOOTSTRAP platformatic|kafkajs single|inflight|group
//        [messages=200000] [concurrency=256] [partitions=6] [bytes=100]
import { randomUUID } from 'node:crypto';

const [bootstrap, client, pattern, messagesArg, concurrencyArg, partitionsArg, bytesArg] =
  process.argv.slice(2);
if (!bootstrap || !client || !pattern) {
  console.error(
    'usage: kafka-clients.mjs BOOTSTRAP platformatic|kafkajs single|inflight|group [messages] [concurrency]',
  );
  process.exit(2);
}
const messages = Number(messagesArg ?? 200_000);
const concurrency = Number(concurrencyArg ?? 256);
const partitions = Number(partitionsArg ?? 6);
const payload = Buffer.alloc(Number(bytesArg ?? 100), 'x');
const topic = `measure-${client}-${pattern}-${randomUUID().slice(0, 8)}`;

/** Returns send(list of {partition, value}) resolving once acknowledged, and close(). */
async function openClient() {
  if (client === 'platformatic') {
    const { Admin, Producer, ProduceAcks } = await import('@platformatic/kafka');
    const admin = new Admin({ clientId: 'measure', bootstrapBrokers: [bootstrap] });
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
    await admin.close();
    const producer = new Producer({
      clientId: 'measure',
      bootstrapBrokers: [bootstrap],
      idempotent: true,
      acks: ProduceAcks.ALL,
    });
    return {
      send: (batch) =>
        producer.send({ messages: batch.map((m) => ({ topic, partition: m.partition, value: m.value })) }),
      close: () => producer.close(),
    };
  }
  if (client === 'kafkajs') {
    const { Kafka, logLevel } = await import('kafkajs');
    const kafka = new Kafka({ clientId: 'measure', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: pattern === 'inflight' ? 5 : 1,
    });
    await producer.connect();
    return {
      send: (batch) =>
        producer.send({
          topic,
          acks: -1,
          messages: batch.map((m) => ({ partition: m.partition, value: m.value })),
        }),
      close: () => producer.disconnect(),
    };
  }
  throw new Error(`unknown client ${client}`);
}

/** Every message of an error and its nested errors (the protocol's error names are deep inside). */
function describe(error) {
  const parts = [`${error.name}: ${error.message}`];
  for (const inner of [...(error.errors ?? []), ...(error.cause ? [error.cause] : [])])
    parts.push(describe(inner));
  if (error.response?.responses)
    parts.push(JSON.stringify(error.response.responses, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
  return parts.join(' / ');
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const kafka = await openClient();
const latencies = new Float64Array(messages);
let sent = 0;
let sends = 0;
let failure;
const started = performance.now();

async function single() {
  for (let i = 0; i < messages; i++) {
    const t = performance.now();
    await kafka.send([{ partition: i % partitions, value: payload }]);
    sends++;
    latencies[sent++] = performance.now() - t;
  }
}

async function inflight() {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < messages && !failure) {
        const i = next++;
        const t = performance.now();
        try {
          await kafka.send([{ partition: i % partitions, value: payload }]);
        } catch (error) {
          failure ??= error;
          return;
        }
        sends++;
        latencies[sent++] = performance.now() - t;
      }
    }),
  );
}

async function group() {
  let pending = [];
  let inFlight = false;
  const flush = () => {
    if (inFlight || pending.length === 0) return;
    const batch = pending;
    pending = [];
    inFlight = true;
    kafka.send(batch).then(
      () => {
        sends++;
        for (const m of batch) m.resolve();
        inFlight = false;
        flush();
      },
      (error) => {
        for (const m of batch) m.reject(error);
        inFlight = false;
        flush();
      },
    );
  };
  const append = (partition) =>
    new Promise((resolve, reject) => {
      pending.push({ partition, value: payload, resolve, reject });
      flush();
    });
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < messages && !failure) {
        const i = next++;
        const t = performance.now();
        try {
          await append(i % partitions);
        } catch (error) {
          failure ??= error;
          return;
        }
        latencies[sent++] = performance.now() - t;
      }
    }),
  );
}

await { single, inflight, group }[pattern]();
const seconds = (performance.now() - started) / 1000;
await kafka.close();
const sorted = latencies.slice(0, sent).sort();
console.log(
  JSON.stringify({
    client,
    pattern,
    partitions,
    bytes: payload.length,
    concurrency: pattern === 'single' ? 1 : concurrency,
    acked: sent,
    sends,
    messagesPerSend: sends ? Math.round(sent / sends) : 0,
    messagesPerSecond: Math.round(sent / seconds),
    p50ms: Number(quantile(sorted, 0.5)?.toFixed(2)),
    p99ms: Number(quantile(sorted, 0.99)?.toFixed(2)),
    error: failure ? describe(failure).slice(0, 600) : undefined,
  }),
);
