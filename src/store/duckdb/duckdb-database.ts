import {
  DuckDBInstance,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';

export type SqlParams = DuckDBValue[];

/** What a transaction body may do. */
export interface Transaction {
  run(sql: string, params?: SqlParams, types?: DuckDBType[]): Promise<void>;
  /** Rows of a query inside this transaction, as `DuckDbDatabase.all` gives them. */
  all<T>(sql: string, params?: SqlParams): Promise<T[]>;
  /**
   * Bulk-appends rows with DuckDB's appender, inside this transaction (a
   * rollback removes them): far cheaper than binding large parameter lists.
   * `temp` names a connection-local TEMP table.
   */
  append(table: string, write: (appender: DuckDBAppender) => void, temp?: boolean): Promise<void>;
}

/**
 * One DuckDB file and one connection, with statements run one at a time.
 * DuckDB is embedded and single-writer; serialising here keeps transactions
 * (BEGIN ... COMMIT issued by `transaction`) from interleaving with other calls.
 */
export class DuckDbDatabase {
  private queue: Promise<unknown> = Promise.resolve();
  private closing = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    /** False for a second connection: closing it leaves the instance open. */
    private readonly ownsInstance: boolean,
  ) {}

  static async open(path: string): Promise<DuckDbDatabase> {
    const instance = await DuckDBInstance.create(path);
    return new DuckDbDatabase(instance, await instance.connect(), true);
  }

  /**
   * Another connection to the same database, with its own statement queue:
   * for reads that must not wait behind this connection's commits. DuckDB's
   * MVCC gives each statement the last committed state; a read never sees a
   * transaction in progress. Close it before the database it came from.
   */
  async connectAgain(): Promise<DuckDbDatabase> {
    return new DuckDbDatabase(this.instance, await this.instance.connect(), false);
  }

  private serialise<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work, work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Runs a statement and returns its rows as plain JS objects. */
  all<T>(sql: string, params: SqlParams = []): Promise<T[]> {
    return this.serialise(async () => {
      const reader = await this.connection.runAndReadAll(sql, params);
      return reader.getRowObjectsJS() as T[];
    });
  }

  /** `all` with explicit parameter types (lists need them). */
  allTyped<T>(sql: string, params: SqlParams, types: DuckDBType[]): Promise<T[]> {
    return this.serialise(async () => {
      const reader = await this.connection.runAndReadAll(sql, params, types);
      return reader.getRowObjectsJS() as T[];
    });
  }

  async run(sql: string, params: SqlParams = []): Promise<void> {
    await this.serialise(() => this.connection.run(sql, params));
  }

  /** True once `close` was called: background readers stop. */
  get closed(): boolean {
    return this.closing;
  }

  /**
   * Runs `work` with the connection to itself: no other statement runs
   * until it settles. For reads whose result must be taken in before any
   * later commit (the minute index load).
   */
  exclusive<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.serialise(() => work(this.connection));
  }

  /**
   * Runs `work` between BEGIN and COMMIT, rolling back if it throws.
   * `afterCommit` runs once COMMIT returned and before any other statement:
   * what it changes in memory is in step with the store for every later
   * statement (the minute index).
   */
  transaction<T>(work: (tx: Transaction) => Promise<T>, afterCommit?: (result: T) => void): Promise<T> {
    return this.serialise(async () => {
      await this.connection.run('BEGIN TRANSACTION');
      let result: T;
      try {
        result = await work({
          run: async (sql, params = [], types) => {
            await this.connection.run(sql, params, types);
          },
          all: async <T>(sql: string, params: SqlParams = []) => {
            const reader = await this.connection.runAndReadAll(sql, params);
            return reader.getRowObjectsJS() as T[];
          },
          append: async (table, write, temp = false) => {
            const appender = await this.connection.createAppender(
              table,
              temp ? 'main' : null,
              temp ? 'temp' : null,
            );
            try {
              write(appender);
              appender.flushSync();
            } finally {
              appender.closeSync();
            }
          },
        });
        await this.connection.run('COMMIT');
      } catch (err) {
        await this.connection.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
      // Outside the try: the transaction is committed whatever this does.
      afterCommit?.(result);
      return result;
    });
  }

  close(): Promise<void> {
    this.closing = true;
    return this.serialise(() => {
      this.connection.closeSync();
      if (this.ownsInstance) this.instance.closeSync();
      return Promise.resolve();
    });
  }
}
