import type { Database } from './database.ts';

/** Stored user programs (SPEC §7.1). Rows are content-addressed: insert-or-keep, never update. */
export interface ProgramRow {
  id: string;
  engine: string;
  source: string;
}

/** Stores the program unless its id is known; true when this call added it. */
export async function insertProgram(db: Database, row: ProgramRow, now: number): Promise<boolean> {
  return db.write(async (tx) => {
    const rs = await tx.execute({
      sql: 'INSERT INTO programs (id, engine, source, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
      args: [row.id, row.engine, row.source, now],
    });
    return rs.rowsAffected === 1;
  });
}

export async function findProgram(db: Database, id: string): Promise<ProgramRow | undefined> {
  const rs = await db.read.execute({ sql: 'SELECT id, engine, source FROM programs WHERE id = ?', args: [id] });
  const r = rs.rows[0] as unknown as unknown[] | undefined;
  return r ? { id: String(r[0]), engine: String(r[1]), source: String(r[2]) } : undefined;
}
