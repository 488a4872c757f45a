import { ripemd160, sha1 } from '@noble/hashes/legacy.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { DstpError } from './errors.ts';
import { sha256, type Sha256 } from './hash.ts';
import { bytesEqual, concatBytes, toHex, utf8 } from './hex.ts';

/**
 * OpenTimestamps proofs: the timestamp tree and the detached `.ots` file format, written from the
 * format's facts (magic, LEB128 varuints, op tags, attestation tags). A timestamp is a tree: each
 * node holds a message; each edge is an operation on the parent's message (append, prepend, a
 * hash, …); leaves are attestations — a calendar's promise (pending, with its URL) or a Bitcoin
 * block header whose merkle root equals the message there.
 *
 * Encoding of a node: every branch but the last is prefixed by 0xff; an attestation branch is
 * 0x00 || tag(8) || varbytes(payload); an op branch is the op tag (+ varbytes arg) followed by the
 * child node. Attestations come first, sorted; then ops sorted by (tag, arg).
 */

export type OtsOp =
  | { op: 'append'; arg: Uint8Array }
  | { op: 'prepend'; arg: Uint8Array }
  | { op: 'reverse' }
  | { op: 'hexlify' }
  | { op: 'sha1' }
  | { op: 'ripemd160' }
  | { op: 'sha256' }
  | { op: 'keccak256' };

export type Attestation =
  | { type: 'pending'; uri: string }
  | { type: 'bitcoin'; height: number }
  | { type: 'unknown'; tag: Uint8Array; payload: Uint8Array };

export interface Timestamp {
  /** The message at this node (computed from the parent's message and the edge op). */
  msg: Uint8Array;
  attestations: Attestation[];
  ops: { op: OtsOp; stamp: Timestamp }[];
}

export const OTS_MAGIC = new Uint8Array([
  0x00, 0x4f, 0x70, 0x65, 0x6e, 0x54, 0x69, 0x6d, 0x65, 0x73, 0x74, 0x61, 0x6d, 0x70, 0x73, 0x00, 0x00, 0x50, 0x72, 0x6f, 0x6f, 0x66, 0x00, 0xbf,
  0x89, 0xe2, 0xe8, 0x84, 0xe8, 0x92, 0x94,
]); // "\0OpenTimestamps\0\0Proof\0" + 8 magic bytes
export const OTS_MAJOR_VERSION = 1;

const OP_TAG: Record<OtsOp['op'], number> = {
  sha1: 0x02,
  ripemd160: 0x03,
  sha256: 0x08,
  keccak256: 0x67,
  append: 0xf0,
  prepend: 0xf1,
  reverse: 0xf2,
  hexlify: 0xf3,
};
const OP_BY_TAG = new Map(Object.entries(OP_TAG).map(([k, v]) => [v, k as OtsOp['op']]));

export const PENDING_TAG = new Uint8Array([0x83, 0xdf, 0xe3, 0x0d, 0x2e, 0xf9, 0x0c, 0x8e]);
export const BITCOIN_TAG = new Uint8Array([0x05, 0x88, 0x96, 0x0d, 0x73, 0xd7, 0x19, 0x01]);

const MAX_MSG = 4096;
const MAX_RESULT = 4096;
const MAX_PAYLOAD = 8192;
const MAX_URI = 1000;
const MAX_DEPTH = 256;
const URI_CHARS = /^[A-Za-z0-9._/:-]*$/;

function otsError(message: string, details?: Record<string, unknown>): DstpError {
  return new DstpError('invalid_proof', `ots: ${message}`, details);
}

// ---- ops ----

/** The result of `op` on `msg` (throws `invalid_proof` on the format's size limits). */
export function applyOp(op: OtsOp, msg: Uint8Array, hash: Sha256 = sha256): Uint8Array {
  if (msg.length > MAX_MSG) throw otsError('message too long for an op', { length: msg.length });
  let r: Uint8Array;
  switch (op.op) {
    case 'append':
      r = concatBytes(msg, op.arg);
      break;
    case 'prepend':
      r = concatBytes(op.arg, msg);
      break;
    case 'reverse':
      if (msg.length === 0) throw otsError('cannot reverse an empty message');
      r = msg.slice().reverse();
      break;
    case 'hexlify':
      if (msg.length === 0 || msg.length > MAX_MSG / 2) throw otsError('message length out of range for hexlify', { length: msg.length });
      r = utf8(toHex(msg));
      break;
    case 'sha1':
      r = sha1(msg);
      break;
    case 'ripemd160':
      r = ripemd160(msg);
      break;
    case 'sha256':
      r = hash(msg);
      break;
    case 'keccak256':
      r = keccak_256(msg);
      break;
  }
  if (r.length > MAX_RESULT) throw otsError('op result too long', { length: r.length });
  return r;
}

function opArg(op: OtsOp): Uint8Array | null {
  return op.op === 'append' || op.op === 'prepend' ? op.arg : null;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function compareOps(a: OtsOp, b: OtsOp): number {
  const t = OP_TAG[a.op] - OP_TAG[b.op];
  if (t !== 0) return t;
  const aa = opArg(a);
  const bb = opArg(b);
  return aa && bb ? compareBytes(aa, bb) : 0;
}

function opsEqual(a: OtsOp, b: OtsOp): boolean {
  return compareOps(a, b) === 0;
}

function attestationTag(a: Attestation): Uint8Array {
  return a.type === 'pending' ? PENDING_TAG : a.type === 'bitcoin' ? BITCOIN_TAG : a.tag;
}

function compareAttestations(a: Attestation, b: Attestation): number {
  const t = compareBytes(attestationTag(a), attestationTag(b));
  if (t !== 0 || a.type !== b.type) return t;
  if (a.type === 'pending' && b.type === 'pending') return a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0;
  if (a.type === 'bitcoin' && b.type === 'bitcoin') return a.height - b.height;
  if (a.type === 'unknown' && b.type === 'unknown') return compareBytes(a.payload, b.payload);
  return 0;
}

// ---- tree helpers ----

export function newTimestamp(msg: Uint8Array): Timestamp {
  return { msg, attestations: [], ops: [] };
}

/** Adds `op` under `ts` (or returns the existing child for an equal op). */
export function addOp(ts: Timestamp, op: OtsOp, hash: Sha256 = sha256): Timestamp {
  const found = ts.ops.find((e) => opsEqual(e.op, op));
  if (found) return found.stamp;
  const stamp = newTimestamp(applyOp(op, ts.msg, hash));
  ts.ops.push({ op, stamp });
  return stamp;
}

/** Merges `other` (a timestamp of the same message) into `ts`, in place. */
export function mergeTimestamp(ts: Timestamp, other: Timestamp, hash: Sha256 = sha256): void {
  if (!bytesEqual(ts.msg, other.msg)) throw otsError('cannot merge timestamps of different messages', { a: toHex(ts.msg), b: toHex(other.msg) });
  for (const a of other.attestations) {
    if (!ts.attestations.some((b) => compareAttestations(a, b) === 0)) ts.attestations.push(a);
  }
  for (const e of other.ops) mergeTimestamp(addOp(ts, e.op, hash), e.stamp, hash);
}

/** Every attestation with the message it attests, depth first. */
export function allAttestations(ts: Timestamp): { msg: Uint8Array; attestation: Attestation }[] {
  const out: { msg: Uint8Array; attestation: Attestation }[] = [];
  const walk = (t: Timestamp) => {
    for (const a of t.attestations) out.push({ msg: t.msg, attestation: a });
    for (const e of t.ops) walk(e.stamp);
  };
  walk(ts);
  return out;
}

/** Nodes that carry a pending attestation (what an upgrade asks the calendar about). */
export function pendingNodes(ts: Timestamp): { node: Timestamp; uri: string }[] {
  const out: { node: Timestamp; uri: string }[] = [];
  const walk = (t: Timestamp) => {
    for (const a of t.attestations) if (a.type === 'pending') out.push({ node: t, uri: a.uri });
    for (const e of t.ops) walk(e.stamp);
  };
  walk(ts);
  return out;
}

/**
 * Checks every edge: each child's message must be the op applied to its parent's message. A tree
 * from `readTimestamp` satisfies this by construction; one built or altered in memory may not.
 */
export function checkTimestamp(ts: Timestamp, hash: Sha256 = sha256): void {
  const walk = (t: Timestamp, depth: number) => {
    if (depth > MAX_DEPTH) throw otsError('timestamp is too deep');
    for (const e of t.ops) {
      const want = applyOp(e.op, t.msg, hash);
      if (!bytesEqual(want, e.stamp.msg)) throw otsError(`op ${e.op.op} does not yield the child's message`, { expected: toHex(want), got: toHex(e.stamp.msg) });
      walk(e.stamp, depth + 1);
    }
  };
  walk(ts, 0);
}

// ---- serialization ----

class Writer {
  private parts: Uint8Array[] = [];
  bytes(b: Uint8Array): void {
    this.parts.push(b);
  }
  byte(x: number): void {
    this.parts.push(new Uint8Array([x]));
  }
  varuint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw otsError('varuint must be a non-negative safe integer', { n });
    const out: number[] = [];
    do {
      let b = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) b |= 0x80;
      out.push(b);
    } while (n > 0);
    this.parts.push(new Uint8Array(out));
  }
  varbytes(b: Uint8Array): void {
    this.varuint(b.length);
    this.bytes(b);
  }
  done(): Uint8Array {
    return concatBytes(...this.parts);
  }
}

function writeAttestation(w: Writer, a: Attestation): void {
  w.bytes(attestationTag(a));
  const p = new Writer();
  if (a.type === 'pending') {
    if (a.uri.length > MAX_URI || !URI_CHARS.test(a.uri)) throw otsError('pending attestation URI has characters the format does not allow', { uri: a.uri });
    p.varbytes(utf8(a.uri));
  } else if (a.type === 'bitcoin') p.varuint(a.height);
  else p.bytes(a.payload);
  w.varbytes(p.done());
}

function writeOp(w: Writer, op: OtsOp): void {
  w.byte(OP_TAG[op.op]);
  const arg = opArg(op);
  if (arg) {
    if (arg.length === 0 || arg.length > MAX_RESULT) throw otsError('op argument length out of range', { length: arg.length });
    w.varbytes(arg);
  }
}

function writeNode(w: Writer, ts: Timestamp, depth: number): void {
  if (depth > MAX_DEPTH) throw otsError('timestamp is too deep');
  const atts = [...ts.attestations].sort(compareAttestations);
  const ops = [...ts.ops].sort((a, b) => compareOps(a.op, b.op));
  const branches = atts.length + ops.length;
  if (branches === 0) throw otsError('an empty timestamp cannot be serialized');
  let i = 0;
  for (const a of atts) {
    if (++i < branches) w.byte(0xff);
    w.byte(0x00);
    writeAttestation(w, a);
  }
  for (const e of ops) {
    if (++i < branches) w.byte(0xff);
    writeOp(w, e.op);
    writeNode(w, e.stamp, depth + 1);
  }
}

/** The timestamp tree alone (what calendars send and take). */
export function writeTimestamp(ts: Timestamp): Uint8Array {
  const w = new Writer();
  writeNode(w, ts, 0);
  return w.done();
}

/** A detached timestamp file for a SHA-256 file digest (`ts.msg` is that digest). */
export function writeDetached(ts: Timestamp): Uint8Array {
  if (ts.msg.length !== 32) throw otsError('a sha256 detached timestamp needs a 32-byte digest', { length: ts.msg.length });
  const w = new Writer();
  w.bytes(OTS_MAGIC);
  w.varuint(OTS_MAJOR_VERSION);
  w.byte(OP_TAG.sha256);
  w.bytes(ts.msg);
  writeNode(w, ts, 0);
  return w.done();
}

class Reader {
  private at = 0;
  constructor(private readonly buf: Uint8Array) {}
  byte(): number {
    if (this.at >= this.buf.length) throw otsError('truncated', { at: this.at });
    return this.buf[this.at++]!;
  }
  bytes(n: number): Uint8Array {
    if (this.at + n > this.buf.length) throw otsError('truncated', { at: this.at, need: n });
    const b = this.buf.slice(this.at, this.at + n);
    this.at += n;
    return b;
  }
  varuint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      n += (b & 0x7f) * scale;
      if (!Number.isSafeInteger(n)) throw otsError('varuint too large');
      if ((b & 0x80) === 0) return n;
      scale *= 128;
    }
  }
  varbytes(max: number, min = 0): Uint8Array {
    const n = this.varuint();
    if (n > max || n < min) throw otsError('varbytes length out of range', { length: n, min, max });
    return this.bytes(n);
  }
  eof(): void {
    if (this.at !== this.buf.length) throw otsError('trailing bytes after the timestamp', { at: this.at, length: this.buf.length });
  }
}

function readAttestation(r: Reader): Attestation {
  const tag = r.bytes(8);
  const payload = r.varbytes(MAX_PAYLOAD);
  const p = new Reader(payload);
  let a: Attestation;
  if (bytesEqual(tag, PENDING_TAG)) {
    const uri = new TextDecoder().decode(p.varbytes(MAX_URI));
    if (!URI_CHARS.test(uri)) throw otsError('pending attestation URI has characters the format does not allow', { uri });
    a = { type: 'pending', uri };
  } else if (bytesEqual(tag, BITCOIN_TAG)) {
    a = { type: 'bitcoin', height: p.varuint() };
  } else return { type: 'unknown', tag, payload };
  p.eof();
  return a;
}

function readOp(r: Reader, tag: number): OtsOp {
  const name = OP_BY_TAG.get(tag);
  if (name === undefined) throw otsError(`unknown op tag 0x${tag.toString(16)}`);
  if (name === 'append' || name === 'prepend') return { op: name, arg: r.varbytes(MAX_RESULT, 1) };
  return { op: name } as OtsOp;
}

function readNode(r: Reader, msg: Uint8Array, hash: Sha256, depth: number): Timestamp {
  if (depth > MAX_DEPTH) throw otsError('timestamp is too deep');
  const ts = newTimestamp(msg);
  const branch = (tag: number) => {
    if (tag === 0x00) ts.attestations.push(readAttestation(r));
    else {
      const op = readOp(r, tag);
      ts.ops.push({ op, stamp: readNode(r, applyOp(op, msg, hash), hash, depth + 1) });
    }
  };
  let tag = r.byte();
  while (tag === 0xff) {
    branch(r.byte());
    tag = r.byte();
  }
  branch(tag);
  return ts;
}

/** Parses a timestamp tree over `msg` (every message recomputed from `msg`). */
export function readTimestamp(bytes: Uint8Array, msg: Uint8Array, hash: Sha256 = sha256): Timestamp {
  const r = new Reader(bytes);
  const ts = readNode(r, msg, hash, 0);
  r.eof();
  return ts;
}

/** Parses a detached `.ots` file; only the sha256 file hash op is accepted (the node writes no other). */
export function readDetached(bytes: Uint8Array, hash: Sha256 = sha256): { fileDigest: Uint8Array; timestamp: Timestamp } {
  const r = new Reader(bytes);
  if (!bytesEqual(r.bytes(OTS_MAGIC.length), OTS_MAGIC)) throw otsError('not an OpenTimestamps proof (bad magic)');
  const major = r.varuint();
  if (major !== OTS_MAJOR_VERSION) throw otsError(`unsupported major version ${major}`);
  const op = r.byte();
  if (op !== OP_TAG.sha256) throw otsError(`file hash op 0x${op.toString(16)} is not sha256`);
  const fileDigest = r.bytes(32);
  const timestamp = readNode(r, fileDigest, hash, 0);
  r.eof();
  return { fileDigest, timestamp };
}
