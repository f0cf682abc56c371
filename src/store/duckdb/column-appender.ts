import { DuckDBDataChunk, type DuckDBAppender, type DuckDBType, type DuckDBVector } from '@duckdb/node-api';

/** Rows of one data chunk: DuckDB's vector size. */
const CHUNK_ROWS = 2048;

/**
 * Appends `rows` rows column by column, through data chunks of DuckDB's
 * vector size: `fill` sets row `row` of the chunk's `vectors` (its columns,
 * in `types` order) to the values of row `index` of the whole. A numeric
 * column reaches DuckDB in one copy per chunk, where the appender's
 * `appendInteger` & co. cross into native code once per value (a commit of
 * 200,000 events made about a million such calls; see the commit figures in
 * docs/benchmark-notes.md). Strings still cross one by one.
 */
export function appendColumns(
  appender: DuckDBAppender,
  types: readonly DuckDBType[],
  rows: number,
  fill: (vectors: readonly DuckDBVector[], row: number, index: number) => void,
): void {
  for (let start = 0; start < rows; start += CHUNK_ROWS) {
    const count = Math.min(CHUNK_ROWS, rows - start);
    const chunk = DuckDBDataChunk.create(types, count);
    const vectors = types.map((_, column) => chunk.getColumnVector(column));
    for (let row = 0; row < count; row++) fill(vectors, row, start + row);
    for (const vector of vectors) vector.flush();
    appender.appendDataChunk(chunk);
  }
}
