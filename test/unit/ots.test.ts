import { describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { DstpError } from '../../src/core/errors.ts';
import { toHex } from '../../src/core/hex.ts';
import {
  addOp,
  allAttestations,
  applyOp,
  checkTimestamp,
  mergeTimestamp,
  newTimestamp,
  OTS_MAGIC,
  pendingNodes,
  readDetached,
  readTimestamp,
  writeDetached,
  writeTimestamp,
} from '../../src/core/ots.ts';

const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
const digest = sha(new TextEncoder().encode('dstp'));

function sample() {
  const ts = newTimestamp(digest);
  const c = addOp(addOp(ts, { op: 'append', arg: new Uint8Array([1, 2, 3]) }), { op: 'sha256' });
  c.attestations.push({ type: 'pending', uri: 'https://alice.btc.calendar.opentimestamps.org' });
  const b = addOp(addOp(c, { op: 'prepend', arg: new Uint8Array(32).fill(9) }), { op: 'sha256' });
  b.attestations.push({ type: 'bitcoin', height: 358391 });
  return { ts, c, b };
}

describe('OpenTimestamps format', () => {
  test('detached file layout: magic, version 1, sha256 op, digest, then the tree', () => {
    const { ts } = sample();
    const bytes = writeDetached(ts);
    expect(toHex(bytes.slice(0, OTS_MAGIC.length))).toBe(toHex(new TextEncoder().encode('\0OpenTimestamps\0\0Proof\0')) + 'bf89e2e884e89294');
    expect(bytes[OTS_MAGIC.length]).toBe(1);
    expect(bytes[OTS_MAGIC.length + 1]).toBe(0x08);
    expect(toHex(bytes.slice(OTS_MAGIC.length + 2, OTS_MAGIC.length + 34))).toBe(toHex(digest));
    // First edge: append (0xf0), varbytes 03 010203.
    expect(toHex(bytes.slice(OTS_MAGIC.length + 34, OTS_MAGIC.length + 39))).toBe('f003010203');
  });

  test('round trip recomputes every message with SHA-256 from the digest', () => {
    const { ts, b } = sample();
    const back = readDetached(writeDetached(ts));
    expect(toHex(back.fileDigest)).toBe(toHex(digest));
    const atts = allAttestations(back.timestamp);
    expect(atts.map((a) => a.attestation.type).sort()).toEqual(['bitcoin', 'pending']);
    const btc = atts.find((a) => a.attestation.type === 'bitcoin')!;
    expect(toHex(btc.msg)).toBe(toHex(b.msg));
    expect(toHex(b.msg)).toBe(toHex(sha(new Uint8Array([...new Uint8Array(32).fill(9), ...sha(new Uint8Array([...digest, 1, 2, 3]))]))));
    expect(toHex(writeDetached(back.timestamp))).toBe(toHex(writeDetached(ts)));
  });

  test('branches: every branch but the last is prefixed 0xff; attestations before ops, sorted', () => {
    const ts = newTimestamp(digest);
    ts.attestations.push({ type: 'pending', uri: 'https://b.example' }, { type: 'pending', uri: 'https://a.example' });
    addOp(ts, { op: 'sha256' }).attestations.push({ type: 'bitcoin', height: 1 });
    const bytes = writeTimestamp(ts);
    const back = readTimestamp(bytes, digest);
    expect(back.attestations.map((a) => (a.type === 'pending' ? a.uri : ''))).toEqual(['https://a.example', 'https://b.example']);
    expect(bytes[0]).toBe(0xff);
    expect(bytes[1]).toBe(0x00);
  });

  test('merge unions attestations and shares equal ops; pendingNodes finds promises', () => {
    const a = sample().ts;
    const other = newTimestamp(digest);
    addOp(addOp(other, { op: 'append', arg: new Uint8Array([1, 2, 3]) }), { op: 'sha256' }).attestations.push({ type: 'pending', uri: 'https://bob.btc.calendar.opentimestamps.org' });
    mergeTimestamp(a, other);
    expect(a.ops).toHaveLength(1);
    expect(pendingNodes(a).map((p) => p.uri).sort()).toEqual(['https://alice.btc.calendar.opentimestamps.org', 'https://bob.btc.calendar.opentimestamps.org']);
    expect(() => mergeTimestamp(a, newTimestamp(new Uint8Array(32)))).toThrow(DstpError);
  });

  test('varuint heights above 127 and long URIs survive', () => {
    for (const h of [0, 127, 128, 300, 16384, 2 ** 31, 2 ** 40]) {
      const ts = newTimestamp(digest);
      ts.attestations.push({ type: 'bitcoin', height: h });
      const back = readTimestamp(writeTimestamp(ts), digest);
      expect(back.attestations[0]).toEqual({ type: 'bitcoin', height: h });
    }
  });

  test('rejects bad magic, other versions, trailing bytes, truncation, unknown ops, empty trees, bad URIs', () => {
    const good = writeDetached(sample().ts);
    const bad = (f: (b: Uint8Array) => Uint8Array) => () => readDetached(f(good.slice()));
    expect(bad((b) => ((b[1] = 0), b))).toThrow(/magic/);
    expect(bad((b) => ((b[OTS_MAGIC.length] = 2), b))).toThrow(/version/);
    expect(bad((b) => new Uint8Array([...b, 0]))).toThrow(/trailing/);
    expect(bad((b) => b.slice(0, b.length - 1))).toThrow(/truncated/);
    expect(bad((b) => ((b[OTS_MAGIC.length + 34] = 0x55), b))).toThrow(/unknown op/);
    expect(() => writeTimestamp(newTimestamp(digest))).toThrow(/empty/);
    const ts = newTimestamp(digest);
    ts.attestations.push({ type: 'pending', uri: 'https://x.example/?q=1' });
    expect(() => writeTimestamp(ts)).toThrow(/URI/);
  });

  test('checkTimestamp catches a child message that does not follow from its op', () => {
    const { ts, c } = sample();
    checkTimestamp(ts);
    c.msg = new Uint8Array(32);
    expect(() => checkTimestamp(ts)).toThrow(/does not yield/);
    expect(toHex(applyOp({ op: 'reverse' }, new Uint8Array([1, 2])))).toBe('0201');
    expect(new TextDecoder().decode(applyOp({ op: 'hexlify' }, new Uint8Array([0xab])))).toBe('ab');
  });
});
