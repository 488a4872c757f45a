/**
 * A tiny OpenTimestamps calendar on 127.0.0.1 for tests, speaking the calendar HTTP API:
 * - `POST /digest` (raw digest body) → a timestamp: append a 16-byte nonce, sha256 → the
 *   commitment, with a pending attestation naming this calendar's URL;
 * - `GET /timestamp/<hex commitment>` → 404 until `mine()`, then the path from the commitment to
 *   a fake block's merkle root (prepend/append sibling + sha256 per level) and a Bitcoin block
 *   header attestation at that height.
 * It can be made to fail (`down`: 503) or answer slowly (`delayMs`) to test back-off.
 */
import { toHex } from '../../src/core/hex.ts';
import { addOp, newTimestamp, writeTimestamp, type Timestamp } from '../../src/core/ots.ts';

export interface LocalCalendar {
  url: string;
  /** Requests seen, by kind. */
  counts: { digest: number; timestamp: number };
  /** 503 for every request while true. */
  down: boolean;
  /** Delay before answering, in ms. */
  delayMs: number;
  /** Anchors every commitment so far in a block at `height`; returns the block's merkle root (hex). */
  mine(height: number): string;
  /** Merkle roots of mined blocks by height (hex). */
  blocks: Map<number, string>;
  commitments(): string[];
  close(): Promise<void>;
}

export function startLocalCalendar(): LocalCalendar {
  const pending: Uint8Array[] = [];
  const upgrades = new Map<string, Uint8Array>();
  let url = '';
  const cal: LocalCalendar = {
    url: '',
    counts: { digest: 0, timestamp: 0 },
    down: false,
    delayMs: 0,
    blocks: new Map(),
    commitments: () => pending.map(toHex),
    mine(height) {
      const unmined = pending.filter((c) => !upgrades.has(toHex(c)));
      if (unmined.length === 0) throw new Error('nothing to mine');
      // One tree per leaf, built by pairing levels; each leaf's path is recorded as ops.
      const stamps = unmined.map((c) => newTimestamp(c));
      let level: { tip: Timestamp[]; msg: Uint8Array }[] = unmined.map((c, i) => ({ tip: [stamps[i]!], msg: c }));
      while (level.length > 1) {
        const next: typeof level = [];
        for (let i = 0; i < level.length; i += 2) {
          const l = level[i]!;
          const r = level[i + 1] ?? level[i]!; // odd node pairs with itself, like Bitcoin
          const tips: Timestamp[] = [];
          for (const t of l.tip) tips.push(addOp(addOp(t, { op: 'append', arg: r.msg }), { op: 'sha256' }));
          if (r !== l) for (const t of r.tip) tips.push(addOp(addOp(t, { op: 'prepend', arg: l.msg }), { op: 'sha256' }));
          next.push({ tip: tips, msg: tips[0]!.msg });
        }
        level = next;
      }
      const root = level[0]!;
      for (const t of root.tip) t.attestations.push({ type: 'bitcoin', height });
      unmined.forEach((c, i) => upgrades.set(toHex(c), writeTimestamp(stamps[i]!)));
      cal.blocks.set(height, toHex(root.msg));
      return toHex(root.msg);
    },
    async close() {
      server.stop(true);
    },
  };
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (cal.delayMs > 0) await Bun.sleep(cal.delayMs);
      if (cal.down) return new Response('calendar down', { status: 503 });
      if (req.method === 'POST' && path === '/digest') {
        cal.counts.digest++;
        const digest = new Uint8Array(await req.arrayBuffer());
        if (digest.length === 0 || digest.length > 64) return new Response('bad digest', { status: 400 });
        const ts = newTimestamp(digest);
        const commitment = addOp(addOp(ts, { op: 'append', arg: crypto.getRandomValues(new Uint8Array(16)) }), { op: 'sha256' });
        commitment.attestations.push({ type: 'pending', uri: url });
        pending.push(commitment.msg);
        return new Response(writeTimestamp(ts) as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream' } });
      }
      const m = /^\/timestamp\/([0-9a-f]{2,128})$/.exec(path);
      if (req.method === 'GET' && m) {
        cal.counts.timestamp++;
        const up = upgrades.get(m[1]!);
        if (!up) return new Response('Pending confirmation in Bitcoin blockchain', { status: 404 });
        return new Response(up as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream' } });
      }
      return new Response('not found', { status: 404 });
    },
  });
  url = `http://127.0.0.1:${server.port}`;
  cal.url = url;
  return cal;
}
