import { checkpointHash, checkpointLeafHash, GLOBAL_EXTENSION_PREFIX, parseCheckpoint, parseGlobalEntry, type Checkpoint } from '../core/checkpoint.ts';
import type { Mode } from '../core/consensus/mode.ts';
import { DstpError } from '../core/errors.ts';
import { bytesEqual, fromHex, isHex32, toHex } from '../core/hex.ts';
import type { JsonValue } from '../core/jcs.ts';
import { parsePublicKey, verifyDigest } from '../core/keys.ts';
import { verifyInclusion } from '../core/merkle-log.ts';
import { ROOT_ID_HEX } from '../core/object-id.ts';
import { fromBase64, parseCheckpointText, verifyNote } from '../core/note.ts';
import { allAttestations, readDetached } from '../core/ots.ts';
import { verifyProof } from '../core/smt/verify.ts';
import type { Proof } from '../core/smt/types.ts';
import type { FetchLike } from './http.ts';
import type { StateResponse } from './types.ts';
import { VerificationError, verifyStateResponse, type LinkCheck, type VerifiedState } from './verify.ts';

/**
 * Verifies a value's full proof chain (SPEC §9) offline, trusting only the node's public key, its
 * checkpoint origin and the subtree id (plus, for the last link, Bitcoin block headers):
 *
 *   value ─proof─▶ state root ─round─▶ signed final round [─parent─▶ parent's signed final round …]
 *     ─global─▶ global root ─checkpoint─▶ signed checkpoint ─log─▶ checkpoint log root
 *     ─note─▶ signed C2SP note ─ots─▶ Bitcoin
 *
 * A nested subtree's round reaches the global tree through its parents: each parent's state holds
 * `sys/child/<child>` = the child's `{root, height, round}`, proven against the parent's own signed
 * final round (and the parent's creation request, checked against its id); the top-level ancestor
 * is the one in the global tree. Any failure on the way up is link `parent`, its message naming
 * the level, the parent and the inner step (proof, round, signatures, subtree or entry).
 *
 * Every failure is a VerificationError naming its link with expected/got evidence.
 */
/** One step up from a nested subtree: the parent's state answer for `sys/child/<child>`, with its creation request. */
export interface ParentLinkResponse extends StateResponse {
  subtree: string;
  request: unknown;
}

export interface ChainResponse extends StateResponse {
  chain: {
    /** Nested subtrees: immediate parent first, up to the top-level ancestor. */
    parents?: ParentLinkResponse[];
    global: { seq: number; globalRoot: string; entry: unknown; proof: Proof };
    checkpoint: { checkpoint: unknown; hash: string; sig: string; signer: string };
    log: { size: number; index: number; leafHash?: string; root: string; proof: string[] };
    note: string;
    ots: string | null;
    anchor?: { status: string; bitcoinHeight: number | null } | null;
  };
}

export interface VerifyChainOptions {
  key: string;
  subtree?: string;
  request?: unknown;
  mode?: Mode;
  network?: string;
  expectedValue?: JsonValue | null;
  /** The node key (`ed25519:<hex>`) that signs checkpoints and notes. */
  nodeKey: string;
  /** The checkpoint origin = note key name (`GET /v1/info` → `origin`). */
  origin: string;
  /** Fail when the chain carries no `.ots` (no calendar has answered yet). */
  requireOts?: boolean;
  /** Fail unless the `.ots` holds a Bitcoin attestation. */
  requireBitcoin?: boolean;
  /** Known Bitcoin block merkle roots by height (hex, as the attestation's message): checked when given. */
  bitcoinMerkleRoots?: Record<number, string>;
  onLink?: (check: LinkCheck) => void;
}

export interface VerifiedChain extends VerifiedState {
  /** The verified parents, immediate parent first (empty for a top-level subtree). */
  parents: VerifiedState[];
  checkpoint: Checkpoint;
  logSize: number;
  logRoot: string;
  /**
   * What anchors the log root in Bitcoin: `absent` (no calendar has answered yet: the chain ends
   * at the signed note), `pending` (calendars promised a Bitcoin attestation), `bitcoin` (one is in).
   */
  ots: 'absent' | 'pending' | 'bitcoin';
  /** Attestations found in the `.ots` (empty without one). */
  attestations: ({ type: 'pending'; uri: string; msg: string } | { type: 'bitcoin'; height: number; msg: string } | { type: 'unknown'; msg: string })[];
}

function fail(link: ConstructorParameters<typeof VerificationError>[0], message: string, evidence: { expected?: unknown; got?: unknown; cause?: unknown } = {}): never {
  throw new VerificationError(link, message, evidence);
}

function evidenceOf(e: unknown): { expected?: unknown; got?: unknown; cause: unknown } {
  const d = e instanceof DstpError ? e.details : undefined;
  return { expected: d?.expected, got: d?.got, cause: e };
}

const msgOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function verifyChainResponse(response: ChainResponse, opts: VerifyChainOptions): Promise<VerifiedChain> {
  const links: LinkCheck[] = [];
  const push = (c: LinkCheck) => {
    links.push(c);
    opts.onLink?.(c);
  };
  // 1-4: value → state root → signed round → finality → subtree origin.
  const state = await verifyStateResponse(response, {
    key: opts.key,
    ...(opts.subtree !== undefined ? { subtree: opts.subtree } : {}),
    ...(opts.request !== undefined ? { request: opts.request } : {}),
    ...(opts.mode !== undefined ? { mode: opts.mode } : {}),
    ...(opts.network !== undefined ? { network: opts.network } : {}),
    ...(opts.expectedValue !== undefined ? { expectedValue: opts.expectedValue } : {}),
    onLink: push,
  });
  const chain = response.chain;
  if (chain === null || typeof chain !== 'object') fail('global', 'the response carries no proof chain');
  let nodeKey;
  try {
    nodeKey = parsePublicKey(opts.nodeKey);
  } catch (e) {
    throw new TypeError(`nodeKey is not a public key: ${msgOf(e)}`);
  }
  if (nodeKey.scheme !== 'ed25519') throw new TypeError('the node key must be ed25519 (it signs C2SP notes)');

  // 5. nested: signed final round → parent's state → parent's signed final round, up to the top level
  const parents = await verifyParents(chain.parents, state, opts, push);
  const top = parents.length > 0 ? parents[parents.length - 1]! : state;

  // 6. top-level signed final round → global root
  const g = chain.global;
  let entry;
  try {
    entry = parseGlobalEntry(g?.entry);
  } catch (e) {
    fail('global', `the global entry is malformed: ${msgOf(e)}`, { cause: e });
  }
  const want = { root: top.root, height: top.height, round: top.roundHash };
  for (const f of ['root', 'height', 'round'] as const) {
    if (entry[f] !== want[f]) fail('global', `the global entry's ${f} is not the verified round's`, { expected: want[f], got: entry[f] });
  }
  if (!isHex32(g.globalRoot)) fail('global', 'globalRoot is not 64 hex characters', { got: g.globalRoot });
  try {
    verifyProof(g.proof, { key: top.subtree, value: { root: entry.root, height: entry.height, round: entry.round, ...(entry.verify ? { verify: entry.verify } : {}) }, root: g.globalRoot });
  } catch (e) {
    fail('global', `global-tree proof: ${msgOf(e)}`, evidenceOf(e));
  }
  push({
    link: 'global',
    detail: `entry {height ${entry.height}, round ${entry.round}${entry.verify ? ', verify headers' : ''}} of ${top.subtree} proven in global root ${g.globalRoot}`,
  });

  // 7. global root → signed checkpoint
  let cp: Checkpoint;
  try {
    cp = parseCheckpoint(chain.checkpoint?.checkpoint);
  } catch (e) {
    fail('checkpoint', `the checkpoint is malformed: ${msgOf(e)}`, { cause: e });
  }
  if (cp.globalRoot !== g.globalRoot) fail('checkpoint', 'the checkpoint names another global root', { expected: g.globalRoot, got: cp.globalRoot });
  if (cp.seq !== g.seq) fail('checkpoint', 'the checkpoint is not the one the global proof is for', { expected: g.seq, got: cp.seq });
  const network = opts.network ?? (response.round?.header as { network?: string } | undefined)?.network;
  if (network !== undefined && cp.network !== network) fail('checkpoint', 'the checkpoint is for another network', { expected: network, got: cp.network });
  const hash = checkpointHash(cp);
  if (chain.checkpoint.hash !== undefined && chain.checkpoint.hash !== toHex(hash)) {
    fail('checkpoint', 'the reported checkpoint hash is not digest("checkpoint", checkpoint)', { expected: toHex(hash), got: chain.checkpoint.hash });
  }
  if (chain.checkpoint.signer !== undefined && chain.checkpoint.signer !== opts.nodeKey) {
    fail('checkpoint', 'the checkpoint is signed by another key', { expected: opts.nodeKey, got: chain.checkpoint.signer });
  }
  let sigOk = false;
  try {
    sigOk = verifyDigest(nodeKey, hash, fromHex(chain.checkpoint.sig, 64));
  } catch {
    sigOk = false;
  }
  if (!sigOk) fail('checkpoint', "the node's signature over the checkpoint does not verify", { expected: opts.nodeKey, got: chain.checkpoint.sig });
  push({ link: 'checkpoint', detail: `checkpoint ${cp.seq} (${toHex(hash)}) signed by ${opts.nodeKey}` });

  // 8. checkpoint → log root (RFC 6962 inclusion)
  const log = chain.log;
  if (!log || !Number.isSafeInteger(log.size) || log.size <= cp.seq) fail('log', 'the log size does not include the checkpoint', { expected: `> ${cp.seq}`, got: log?.size });
  if (log.index !== cp.seq) fail('log', 'the inclusion proof is for another leaf index', { expected: cp.seq, got: log.index });
  const leaf = checkpointLeafHash(cp);
  if (log.leafHash !== undefined && log.leafHash !== toHex(leaf)) fail('log', 'the reported leaf hash is not H(0x00 || jcs(checkpoint))', { expected: toHex(leaf), got: log.leafHash });
  let logRoot: Uint8Array;
  try {
    logRoot = fromHex(log.root, 32);
    verifyInclusion(leaf, cp.seq, log.size, (log.proof ?? []).map((h) => fromHex(h, 32)), logRoot);
  } catch (e) {
    fail('log', `inclusion of checkpoint ${cp.seq} in the log of size ${log.size}: ${msgOf(e)}`, evidenceOf(e));
  }
  push({ link: 'log', detail: `checkpoint ${cp.seq} is leaf ${cp.seq} of the log of size ${log.size} with root ${log.root}` });

  // 9. log root → signed C2SP note
  let body;
  try {
    const parsed = verifyNote(chain.note, { name: opts.origin, publicKey: nodeKey.bytes });
    body = parseCheckpointText(parsed.text);
  } catch (e) {
    fail('note', msgOf(e), evidenceOf(e));
  }
  if (body.origin !== opts.origin) fail('note', 'the note is for another origin', { expected: opts.origin, got: body.origin });
  if (body.size !== log.size) fail('note', 'the note is for another log size', { expected: log.size, got: body.size });
  if (!bytesEqual(body.rootHash, logRoot)) fail('note', 'the note signs another log root', { expected: log.root, got: toHex(body.rootHash) });
  const ext = body.extensions.find((l) => l.startsWith(GLOBAL_EXTENSION_PREFIX));
  if (ext === undefined) fail('note', `the note has no "${GLOBAL_EXTENSION_PREFIX.trim()}" extension line`);
  if (log.size === cp.seq + 1 && ext !== GLOBAL_EXTENSION_PREFIX + cp.globalRoot) {
    fail('note', "the note's dstp-global line is not the checkpoint's global root", { expected: cp.globalRoot, got: ext.slice(GLOBAL_EXTENSION_PREFIX.length) });
  }
  push({ link: 'note', detail: `note "${opts.origin}" signs log size ${body.size}, root ${log.root}` });

  // 10. log root → Bitcoin (.ots)
  const attestations: VerifiedChain['attestations'] = [];
  if (chain.ots === null || chain.ots === undefined) {
    if (opts.requireOts || opts.requireBitcoin) fail('ots', 'the chain carries no OpenTimestamps proof yet');
  } else {
    const bytes = typeof chain.ots === 'string' ? fromBase64(chain.ots) : null;
    if (bytes === null) fail('ots', 'the .ots is not base64');
    let parsed;
    try {
      parsed = readDetached(bytes);
    } catch (e) {
      fail('ots', `the .ots does not parse: ${msgOf(e)}`, { cause: e });
    }
    if (!bytesEqual(parsed.fileDigest, logRoot)) fail('ots', 'the .ots timestamps another digest than the log root', { expected: log.root, got: toHex(parsed.fileDigest) });
    for (const a of allAttestations(parsed.timestamp)) {
      const msg = toHex(a.msg);
      if (a.attestation.type === 'pending') attestations.push({ type: 'pending', uri: a.attestation.uri, msg });
      else if (a.attestation.type === 'bitcoin') {
        attestations.push({ type: 'bitcoin', height: a.attestation.height, msg });
        const known = opts.bitcoinMerkleRoots?.[a.attestation.height];
        if (known !== undefined && known !== msg) {
          fail('ots', `the commitment at Bitcoin block ${a.attestation.height} is not that block's merkle root`, { expected: known, got: msg });
        }
      } else attestations.push({ type: 'unknown', msg });
    }
    if (attestations.length === 0) fail('ots', 'the .ots holds no attestation');
    const btc = attestations.filter((a) => a.type === 'bitcoin');
    if (opts.requireBitcoin && btc.length === 0) fail('ots', 'the .ots holds no Bitcoin attestation yet (only pending calendar promises)');
    push({
      link: 'ots',
      detail: btc.length
        ? `log root committed in Bitcoin block(s) ${btc.map((a) => (a.type === 'bitcoin' ? a.height : '')).join(', ')} (check each block header's merkle root)`
        : `log root submitted to ${attestations.length} calendar(s), pending Bitcoin confirmation`,
    });
  }

  const ots = attestations.length === 0 ? 'absent' : attestations.some((a) => a.type === 'bitcoin') ? 'bitcoin' : 'pending';
  return { ...state, links, parents, checkpoint: cp, logSize: log.size, logRoot: log.root, ots, attestations };
}

/**
 * Climbs from the verified subtree to its top-level ancestor. At each level the parent's answer
 * must prove `sys/child/<child>` = exactly the verified child's `{root, height, round}` against
 * the parent's own final round, under the parent's creation request (checked against the parent
 * id); when the child's creation request is known, its `parent` field must name that parent.
 */
async function verifyParents(
  given: ChainResponse['chain']['parents'],
  state: VerifiedState,
  opts: VerifyChainOptions,
  push: (c: LinkCheck) => void,
): Promise<VerifiedState[]> {
  if (given !== undefined && !Array.isArray(given)) fail('parent', 'chain.parents is not a list');
  const out: VerifiedState[] = [];
  let child = state;
  let childParent = parentOf(opts.request);
  for (const [i, p] of (given ?? []).entries()) {
    const where = `level ${i + 1}`;
    if (p === null || typeof p !== 'object' || !isHex32(p.subtree)) fail('parent', `${where}: the parent id is not 64 hex characters`, { got: p?.subtree });
    if (childParent !== undefined && childParent !== p.subtree) {
      fail('parent', `${where}: the child's creation request names another parent`, { expected: childParent, got: p.subtree });
    }
    const key = `sys/child/${child.subtree}`;
    const entry = { root: child.root, height: child.height, round: child.roundHash };
    let verified: VerifiedState;
    try {
      verified = await verifyStateResponse(p, {
        key,
        subtree: p.subtree,
        request: p.request,
        expectedValue: entry,
        ...(opts.network !== undefined ? { network: opts.network } : {}),
      });
    } catch (e) {
      if (!(e instanceof VerificationError)) throw e;
      // The inner step names what failed: a "proof" failure with the expected value means the
      // parent records another head for this child than the one verified below.
      fail('parent', `${where} (${p.subtree}): ${e.message}`, { expected: e.expected, got: e.got, cause: e });
    }
    push({ link: 'parent', detail: `${where}: parent ${p.subtree} round ${verified.height} records ${key} = {height ${entry.height}, round ${entry.round}}` });
    out.push(verified);
    child = verified;
    childParent = parentOf(p.request);
  }
  // The last subtree reached must be top-level, or the chain was cut short (or parents left out).
  if (childParent !== undefined && childParent !== ROOT_ID_HEX) {
    fail('parent', `the chain stops at ${child.subtree}, whose creation request names parent ${childParent}`, { expected: childParent, got: null });
  }
  return out;
}

/** The `parent` a creation request names, if it is one (checked against the id by verifyStateResponse). */
function parentOf(request: unknown): string | undefined {
  const parent = (request as { subtree?: { parent?: unknown } } | null | undefined)?.subtree?.parent;
  return typeof parent === 'string' ? parent : undefined;
}

/** Fetches `GET /v1/subtrees/:id/chain/:key` (JSON) from a node. */
export async function fetchChain(
  baseUrl: string,
  subtree: string,
  key: string,
  opts: { seq?: number; size?: number; fetch?: FetchLike } = {},
): Promise<ChainResponse> {
  const q = [opts.seq !== undefined ? `seq=${opts.seq}` : '', opts.size !== undefined ? `size=${opts.size}` : ''].filter(Boolean).join('&');
  const url = `${baseUrl.replace(/\/+$/, '')}/v1/subtrees/${encodeURIComponent(subtree)}/chain/${encodeURIComponent(key)}${q ? `?${q}` : ''}`;
  const f = opts.fetch ?? ((u: string, i?: RequestInit) => globalThis.fetch(u, i));
  const res = await f(url, { headers: { accept: 'application/json' } });
  const text = await res.text();
  if (!res.ok) {
    let detail = text;
    try {
      detail = (JSON.parse(text) as { detail?: string }).detail ?? text;
    } catch {
      // not JSON
    }
    throw new Error(`GET ${url}: ${res.status} ${detail}`);
  }
  return JSON.parse(text) as ChainResponse;
}
