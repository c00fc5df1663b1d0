/**
 * Multi-row INSERTs for the bulk writers (the scheduler's runs, the event persister's
 * batches). Drizzle rebuilds a multi-row INSERT's SQL value by value on every call, which
 * costs more than SQLite's own work; these statements are compiled once per row count and
 * bound positionally, with each value encoded as Drizzle would (JSON, booleans, defaults).
 */
import type { Database, Statement } from "bun:sqlite";
import { getTableColumns, getTableName, is, SQL } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";

/** SQLite's default SQLITE_MAX_VARIABLE_NUMBER (3.32 and later). */
export const MAX_BIND_PARAMETERS = 32_766;

type Binding = string | number | bigint | boolean | Uint8Array | null;

interface BoundColumn {
  key: string;
  column: SQLiteColumn;
  /** What an absent value becomes, as Drizzle's insert does: the column's default, else NULL. */
  absent: Binding;
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

export interface BulkInsertOptions {
  /** Rows conflicting on these columns (a unique index) are skipped, as `ON CONFLICT DO NOTHING`. */
  skipConflictsOn?: SQLiteColumn[];
}

export class BulkInsert<T extends SQLiteTable> {
  private readonly columns: BoundColumn[];
  private readonly head: string;
  private readonly row: string;
  private readonly tail: string;
  /** Rows per statement: as many as the bind-parameter limit allows. */
  private readonly chunkRows: number;
  private readonly statements = new Map<number, Statement>();

  constructor(
    private readonly client: Database,
    table: T,
    options: BulkInsertOptions = {},
  ) {
    const name = getTableName(table);
    const columns = Object.entries(getTableColumns(table) as Record<string, SQLiteColumn>);
    const primary = columns.find(([, c]) => c.primary)?.[1];
    if (!primary) throw new Error(`${name}: a bulk insert returns primary keys, and the table has none`);
    this.columns = columns
      .filter(([, column]) => column.generated === undefined) // generated columns take no value
      .map(([key, column]) => {
        if (column.defaultFn !== undefined || is(column.default, SQL)) throw new Error(`${name}.${column.name}: computed defaults are not supported`);
        const absent = column.default === undefined || column.default === null ? null : (column.mapToDriverValue(column.default) as Binding);
        return { key, column, absent };
      });
    this.head = `INSERT INTO ${quote(name)} (${this.columns.map((c) => quote(c.column.name)).join(", ")}) VALUES `;
    this.row = `(${this.columns.map(() => "?").join(", ")})`;
    const conflict = options.skipConflictsOn ? ` ON CONFLICT (${options.skipConflictsOn.map((c) => quote(c.name)).join(", ")}) DO NOTHING` : "";
    this.tail = `${conflict} RETURNING ${quote(primary.name)}`;
    this.chunkRows = Math.floor(MAX_BIND_PARAMETERS / this.columns.length);
  }

  /** Inserts `rows` (each absent value as Drizzle would write it); returns the primary keys of the rows inserted. */
  run(rows: T["$inferInsert"][]): string[] {
    const inserted: string[] = [];
    for (const [from, count] of this.chunks(rows.length)) {
      for (const [key] of this.statement(count).values(...this.bindings(rows, from, count))) inserted.push(key as string);
    }
    return inserted;
  }

  /**
   * Full chunks, then the rest in power-of-two pieces: at most log2(chunkRows) + 2
   * statements ever get compiled, whatever the batch sizes.
   */
  private *chunks(total: number): Generator<[from: number, count: number]> {
    let from = 0;
    while (total - from >= this.chunkRows) {
      yield [from, this.chunkRows];
      from += this.chunkRows;
    }
    for (let piece = 1 << Math.floor(Math.log2(Math.max(1, total - from))); from < total; piece >>= 1) {
      if (total - from < piece) continue;
      yield [from, piece];
      from += piece;
    }
  }

  private statement(count: number): Statement {
    let statement = this.statements.get(count);
    if (!statement) {
      statement = this.client.prepare(this.head + Array(count).fill(this.row).join(", ") + this.tail);
      this.statements.set(count, statement);
    }
    return statement;
  }

  private bindings(rows: T["$inferInsert"][], from: number, count: number): Binding[] {
    const values: Binding[] = new Array(count * this.columns.length);
    let i = 0;
    for (let r = from; r < from + count; r++) {
      const row = rows[r] as Record<string, unknown>;
      for (const { key, column, absent } of this.columns) {
        const value = row[key];
        values[i++] = value === undefined ? absent : value === null ? null : (column.mapToDriverValue(value) as Binding);
      }
    }
    return values;
  }
}
