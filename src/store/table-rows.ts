import { getTableColumns, getTableName } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';

/**
 * Whole-row reads of a drizzle table through the prepared-read connection (prepared-reads.ts):
 * `select` names every column in the table's declared order, and `row` maps a positional row to
 * the same object the query builder returns, with each column's own driver mapping (JSON columns
 * parsed, NULL kept). The builder costs ~100 µs of CPU per read; the leader does several per round.
 */
export interface TableRows<T extends SQLiteTable> {
  /** `SELECT <all columns> FROM <table>`; append the WHERE clause. */
  select: string;
  row(r: ArrayLike<unknown>): T['$inferSelect'];
}

export function tableRows<T extends SQLiteTable>(table: T): TableRows<T> {
  const columns = Object.entries(getTableColumns(table));
  return {
    select: `SELECT ${columns.map(([, c]) => `"${c.name}"`).join(', ')} FROM "${getTableName(table)}"`,
    row(r) {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < columns.length; i++) {
        const [key, column] = columns[i]!;
        const v = r[i];
        out[key] = v === null || v === undefined ? null : column.mapFromDriverValue(v);
      }
      return out as T['$inferSelect'];
    },
  };
}
