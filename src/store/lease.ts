import type { Database, Executor } from './database.ts';
import { LeaseLostError } from './errors.ts';
import { preparedReads } from './prepared-reads.ts';
import { num } from './sql.ts';

/**
 * Leader leases with fencing tokens. Whoever holds lease `name` may commit rounds; every commit
 * re-checks holder, token and expiry inside its own write transaction (see `assertLease`), so a
 * leader that paused past its expiry and lost the lease cannot write afterwards.
 *
 * `holder` must be unique per process (e.g. a random id made at start). Clocks: `now` is the
 * caller's wall clock; the lease is only as good as the skew between processes is small against
 * the TTL.
 */

/** What a leader proves it holds when it writes. */
export interface LeaseClaim {
  name: string;
  holder: string;
  token: number;
}

export interface LeaseGrant {
  /** Rises on every change of holder, never on a renewal. */
  token: number;
  expiresAt: number;
}

export interface LeaseRow {
  name: string;
  holder: string;
  token: number;
  expiresAt: number;
}

/**
 * Takes the lease if it is free, expired, or already ours (then it is renewed, same token).
 * Returns null while someone else holds it. One atomic upsert: two processes racing for an
 * expired lease cannot both win, and the loser sees the winner's row.
 */
export async function acquireLease(
  db: Database,
  input: { name: string; holder: string; ttlMs: number; now: number },
): Promise<LeaseGrant | null> {
  const expiresAt = input.now + input.ttlMs;
  const rs = await db.write((tx) =>
    tx.execute({
      sql: `INSERT INTO lease (name, holder, token, expires_at) VALUES (?, ?, 1, ?)
            ON CONFLICT (name) DO UPDATE SET
              token = CASE WHEN lease.holder = excluded.holder THEN lease.token ELSE lease.token + 1 END,
              holder = excluded.holder,
              expires_at = excluded.expires_at
            WHERE lease.holder = excluded.holder OR lease.expires_at <= ?
            RETURNING token, expires_at`,
      args: [input.name, input.holder, expiresAt, input.now],
    }),
  );
  const row = rs.rows[0];
  return row ? { token: num(row[0]), expiresAt: num(row[1]) } : null;
}

/** Gives the lease up at once (it stays with the same token until someone else takes it). */
export async function releaseLease(db: Database, claim: LeaseClaim): Promise<boolean> {
  const rs = await db.write((tx) =>
    tx.execute({
      sql: 'UPDATE lease SET expires_at = 0 WHERE name = ? AND holder = ? AND token = ?',
      args: [claim.name, claim.holder, claim.token],
    }),
  );
  return rs.rowsAffected === 1;
}

export async function getLease(db: Database, name: string): Promise<LeaseRow | undefined> {
  const rs = await db.read.execute({ sql: 'SELECT name, holder, token, expires_at FROM lease WHERE name = ?', args: [name] });
  const r = rs.rows[0];
  return r ? { name: String(r[0]), holder: String(r[1]), token: num(r[2]), expiresAt: num(r[3]) } : undefined;
}

/**
 * The lease row read through the local prepared-read connection (prepared-reads.ts, ~5 µs), or
 * null where the database has none (remote, embedded replica, Workers): callers then renew as
 * before. Lets a leader that still holds most of its lease skip the durable renewal write.
 */
export function localLease(db: Database, name: string): LeaseRow | undefined | null {
  const fast = preparedReads(db);
  if (!fast) return null;
  const r = fast.get('SELECT name, holder, token, expires_at FROM lease WHERE name = ?', [name]);
  return r ? { name: String(r[0]), holder: String(r[1]), token: num(r[2]), expiresAt: num(r[3]) } : undefined;
}

/**
 * Throws LeaseLostError unless `claim` still holds the lease. Call it inside the write
 * transaction that depends on the lease: the write lock keeps the row from changing until COMMIT.
 *
 * The fence is holder + token, not expiry: any takeover raises the token, so a leader whose lease
 * lapsed can still commit while nobody has taken over, and can never commit after someone has.
 * Checking expiry here made a round that takes longer than the TTL roll back forever.
 */
export async function assertLease(ex: Executor, claim: LeaseClaim, now: number): Promise<void> {
  const rs = await ex.execute({ sql: 'SELECT holder, token, expires_at FROM lease WHERE name = ?', args: [claim.name] });
  const r = rs.rows[0];
  const current = r ? { holder: String(r[0]), token: num(r[1]), expiresAt: num(r[2]) } : null;
  if (!current || current.holder !== claim.holder || current.token !== claim.token) {
    throw new LeaseLostError(`lease ${claim.name} is no longer held by ${claim.holder} with token ${claim.token}`, {
      claim,
      current,
      now,
    });
  }
}
