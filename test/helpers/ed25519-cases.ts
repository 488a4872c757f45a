import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, fromHex, utf8 } from '../../src/core/hex.ts';
import edge from '../vectors/ed25519-edge.json';

export { edge };

/**
 * ed25519 cases where implementations disagree: wycheproof, speccheck, a ZIP-215 grid of
 * small-order encodings, torsion-crafted signatures and S + L. Every verifier of ours must
 * answer them exactly like noble strict (zip215: false).
 */
export interface Case {
  name: string;
  pub: Uint8Array;
  msg: Uint8Array;
  sig: Uint8Array;
}

const Point = ed25519.Point;
export const L = Point.Fn.ORDER;
const modL = (x: bigint) => ((x % L) + L) % L;
const h512 = (...parts: Uint8Array[]) => modL(bytesToNumberLE(sha512(concatBytes(...parts))));

/** A signature whose R and/or A carry a torsion component: valid for the cofactored equation only. */
export function craftTorsion(seed: number, msg: Uint8Array, tR: string | null, tA: string | null): Case {
  const secret = new Uint8Array(32).fill(seed);
  const { scalar: a, point: A0 } = ed25519.utils.getExtendedPublicKey(secret);
  const A = tA ? A0.add(Point.fromBytes(fromHex(tA))) : A0;
  const pub = A.toBytes();
  const r = h512(secret, msg, new Uint8Array([seed])) || 1n;
  const R0 = Point.BASE.multiply(r);
  const R = tR ? R0.add(Point.fromBytes(fromHex(tR))) : R0;
  const Rb = R.toBytes();
  const k = h512(Rb, pub, msg);
  const S = modL(r + k * a);
  return { name: `torsion seed=${seed} R+${tR?.slice(0, 6) ?? '-'} A+${tA?.slice(0, 6) ?? '-'}`, pub, msg, sig: concatBytes(Rb, numberToBytesLE(S, 32)) };
}

/** `gridMsg` and `msg` replace the grid's and the crafted cases' messages (e.g. with 32-byte digests). */
export function edgeCases(gridMsg = utf8('Zcash'), msg = utf8('DSTP torsion probe')): Case[] {
  const out: Case[] = [];
  for (const [i, c] of edge.speccheck.entries()) {
    out.push({ name: `speccheck #${i}`, pub: fromHex(c.pub_key), msg: fromHex(c.message), sig: fromHex(c.signature) });
  }
  // ZIP-215 style grid: every low-order encoding (canonical and not) as A and as R, S = 0.
  const enc = [...edge.smallOrder.canonical, ...edge.smallOrder.nonCanonical];
  for (const a of enc) {
    for (const r of enc) {
      out.push({ name: `small-order A=${a.slice(0, 6)}…${a.slice(-2)} R=${r.slice(0, 6)}…${r.slice(-2)}`, pub: fromHex(a), msg: gridMsg, sig: fromHex(r + '00'.repeat(32)) });
    }
  }
  const torsion = edge.smallOrder.canonical.slice(1); // all but the identity
  for (const [i, t] of torsion.entries()) {
    out.push(craftTorsion(i + 1, msg, t, null));
    out.push(craftTorsion(i + 11, msg, null, t));
    out.push(craftTorsion(i + 21, msg, t, torsion[(i + 3) % torsion.length]!));
  }
  // An honest signature, and the same with S + L (same scalar, non-canonical).
  const honest = craftTorsion(42, msg, null, null);
  out.push(honest);
  const sPlusL = numberToBytesLE(bytesToNumberLE(honest.sig.subarray(32)) + L, 32);
  out.push({ ...honest, name: 'S + L', sig: concatBytes(honest.sig.subarray(0, 32), sPlusL) });
  return out;
}

export function wycheproofCases(): (Case & { valid: boolean })[] {
  return edge.wycheproof.flatMap((g) =>
    g.tests.map((t) => ({ name: `wycheproof tcId ${t.tcId}`, pub: fromHex(g.pk), msg: fromHex(t.msg), sig: fromHex(t.sig), valid: t.result === 'valid' })),
  );
}

