import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, JSDuckDBValueConverter, type DuckDBDataChunk } from '@duckdb/node-api';
import { sqlString } from '../archive/archive-scan.js';
import { AnalyticsRefusal, duckDbReason } from './analytics-refusal.js';
import type { ChunkSink, SqlResult } from './sql-sandbox.js';
import { SQL_ANSWER_BYTES } from './sql-limits.js';

export type SqlFormat = 'json' | 'csv' | 'parquet';

/** A JSON value of a DuckDB value as the JS converter gives it: bigints as numbers when exact. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}

const CSV_SPECIAL = /[",\r\n]/;

/** One CSV field (RFC 4180): quoted when it holds a quote, comma or line break (as the export does: export.ts). */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text: string;
  if (typeof value === 'string') text = value;
  else if (value instanceof Date) text = Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  else if (typeof value === 'object') text = JSON.stringify(value, jsonValue);
  else text = String(jsonValue('', value));
  return CSV_SPECIAL.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function answerTooLarge(): AnalyticsRefusal {
  return new AnalyticsRefusal(
    400,
    'answer_too_large',
    `the answer exceeds ${SQL_ANSWER_BYTES} bytes; select fewer or narrower columns, or aggregate`,
  );
}

/**
 * Encodes chunks as they come into JSON (`{columns, types, rows}`, rows as
 * arrays) or CSV (a header line, then one line a row), holding at most
 * SQL_ANSWER_BYTES of text.
 */
export class TextAnswer {
  private readonly parts: string[] = [];
  private bytes = 0;
  private rows = 0;

  constructor(readonly format: 'json' | 'csv') {}

  readonly sink: ChunkSink = (chunk) => {
    const rows = chunk.convertRows(JSDuckDBValueConverter);
    const text =
      this.format === 'json'
        ? rows.map((row) => JSON.stringify(row, jsonValue)).join(',')
        : rows.map((row) => `${row.map(csvField).join(',')}\r\n`).join('');
    this.bytes += Buffer.byteLength(text);
    if (this.bytes > SQL_ANSWER_BYTES) throw answerTooLarge();
    this.parts.push(this.format === 'json' && this.rows > 0 ? `,${text}` : text);
    this.rows += rows.length;
  };

  /** The whole answer, once the statement has run. */
  body(result: SqlResult): Buffer {
    if (this.format === 'csv') {
      return Buffer.from(`${result.columns.map(csvField).join(',')}\r\n${this.parts.join('')}`);
    }
    const head = JSON.stringify({ columns: result.columns, types: result.types }).slice(0, -1);
    return Buffer.from(`${head},"rows":[${this.parts.join('')}]}`);
  }
}

/** Keeps the chunks (within the row limit) for a Parquet answer. */
export class ChunkAnswer {
  readonly chunks: DuckDBDataChunk[] = [];
  readonly sink: ChunkSink = (chunk) => {
    this.chunks.push(chunk);
  };
}

/**
 * Writes a result as one Parquet file under `tmpDir` and returns its path.
 * A separate instance does it, where no statement of the caller ever runs,
 * so the sandbox itself never gets a writable directory. Parquet's footer
 * is written last, so the file is made whole before a byte is sent.
 */
export async function writeParquet(
  result: SqlResult,
  chunks: readonly DuckDBDataChunk[],
  tmpDir: string,
  memoryMb: number,
): Promise<string> {
  await mkdir(tmpDir, { recursive: true });
  const path = join(tmpDir, `sql-${randomUUID()}.parquet`);
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: `${memoryMb}MB`,
    threads: '1',
    temp_directory: '',
    autoload_known_extensions: 'false',
  });
  const connection = await instance.connect();
  try {
    const columns = result.uniqueColumns.map(
      (name, i) => `"${name.replaceAll('"', '""')}" ${result.types[i]}`,
    );
    try {
      await connection.run(`CREATE TABLE answer (${columns.join(', ')})`);
    } catch (err) {
      throw new AnalyticsRefusal(
        400,
        'sql_refused',
        `the answer cannot be written as Parquet: ${duckDbReason(err)}`,
      );
    }
    const appender = await connection.createAppender('answer');
    try {
      for (const chunk of chunks) appender.appendDataChunk(chunk);
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    await connection.run(`COPY answer TO ${sqlString(path)} (FORMAT parquet)`);
    return path;
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
