import type { JsonValue } from '../core/jcs.ts';
import type { Database } from './database.ts';
import { num } from './sql.ts';

/**
 * A co-signer's durable memory of multisig proposals (its own database, synchronous = FULL): when
 * it first saw each one (SPEC §5: the expiry timeout runs from the signer's own first sighting),
 * and whether it voted to expire it — written BEFORE the vote leaves the process, so a restart
 * never signs a proposal it voted against. And the fork halt with its evidence.
 */
export interface Sighting {
  hash: string;
  height: number;
  firstSeen: number;
  /** The expiry vote this co-signer made for it (its signature), if any. */
  expirySig: string | null;
}

/** Records first sightings (an existing row keeps its first time) and returns every row at that height. */
export async function noteSightings(db: Database, subtree: string, height: number, hashes: readonly string[], now: number): Promise<Map<string, Sighting>> {
  if (hashes.length > 0) {
    const known = await sightingsAt(db, subtree, height);
    if (hashes.some((h) => !known.has(h))) {
      await db.write(async (tx) => {
        for (const h of hashes) {
          await tx.execute({ sql: 'INSERT OR IGNORE INTO replica_seen (subtree, height, hash, first_seen) VALUES (?, ?, ?, ?)', args: [subtree, height, h, now] });
        }
      });
    } else return known;
  }
  return sightingsAt(db, subtree, height);
}

export async function sightingsAt(db: Database, subtree: string, height: number): Promise<Map<string, Sighting>> {
  const rs = await db.read.execute({ sql: 'SELECT hash, height, first_seen, expiry_sig FROM replica_seen WHERE subtree = ? AND height = ?', args: [subtree, height] });
  return new Map(rs.rows.map((r) => [String(r[0]), { hash: String(r[0]), height: num(r[1]), firstSeen: num(r[2]), expirySig: r[3] == null ? null : String(r[3]) }]));
}

/** Durably notes an expiry vote before it is sent (the sighting row exists: noteSightings came first). */
export async function recordExpiryVote(db: Database, subtree: string, height: number, hash: string, sig: string, now: number): Promise<void> {
  await db.write(async (tx) => {
    await tx.execute({ sql: 'INSERT OR IGNORE INTO replica_seen (subtree, height, hash, first_seen) VALUES (?, ?, ?, ?)', args: [subtree, height, hash, now] });
    await tx.execute({ sql: 'UPDATE replica_seen SET expiry_sig = ?, voted_at = ? WHERE subtree = ? AND hash = ? AND expiry_sig IS NULL', args: [sig, now, subtree, hash] });
  });
}

export interface ReplicaHalt {
  subtree: string;
  height: number;
  code: string;
  detail: string;
  evidence: JsonValue;
  createdAt: number;
}

export async function recordReplicaHalt(db: Database, h: ReplicaHalt): Promise<void> {
  await db.write((tx) =>
    tx.execute({
      sql: 'INSERT OR IGNORE INTO replica_halts (subtree, height, code, detail, evidence, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      args: [h.subtree, h.height, h.code, h.detail, JSON.stringify(h.evidence), h.createdAt],
    }),
  );
}

export async function getReplicaHalt(db: Database, subtree: string): Promise<ReplicaHalt | undefined> {
  const rs = await db.read.execute({ sql: 'SELECT subtree, height, code, detail, evidence, created_at FROM replica_halts WHERE subtree = ?', args: [subtree] });
  const r = rs.rows[0];
  if (!r) return undefined;
  return { subtree: String(r[0]), height: num(r[1]), code: String(r[2]), detail: String(r[3]), evidence: JSON.parse(String(r[4])) as JsonValue, createdAt: num(r[5]) };
}
