import { checkCreationSignatures, isRoundFinal, roundSigners, type SignerSig } from '../core/consensus/signing-rules.ts';
import type { Mode } from '../core/consensus/mode.ts';
import { digest } from '../core/digest.ts';
import { DstpError } from '../core/errors.ts';
import { fromHex, isHex32, toHex } from '../core/hex.ts';
import { jcs, type JsonValue } from '../core/jcs.ts';
import { parsePublicKey, verifyDigest } from '../core/keys.ts';
import { parseRoundHeader, roundHash, type RoundHeader } from '../core/round.ts';
import { verifyProof } from '../core/smt/verify.ts';
import { parseSubtreeRequest, subtreeId, type SubtreeRequest } from '../core/subtree-request.ts';
import type { Acceptance, RoundResponse, StateResponse } from './types.ts';

/**
 * Checks what a node says about a value without trusting the node (SPEC §4, §5, §8):
 *
 *   value ─proof─▶ state root ─round─▶ round header ─signatures─▶ mode's finality rule
 *                                                                  ▲
 *   subtree id ══ objectId(parent, owner, name) ─subtree─▶ owner-signed creation request (mode)
 *
 * The only things taken on faith are the subtree id the caller asked about and the hash and
 * signature rules. Every failure names its link and carries the evidence (expected vs got and
 * the underlying cause) instead of a bare `false`.
 */
export type VerificationLink = 'proof' | 'round' | 'signatures' | 'subtree' | 'acceptance' | ChainLink;

/** Links of the full proof chain above the subtree (see verify-chain.ts). */
export type ChainLink = 'parent' | 'global' | 'checkpoint' | 'log' | 'note' | 'ots';

export class VerificationError extends Error {
  override readonly name = 'VerificationError';
  readonly link: VerificationLink;
  readonly expected?: unknown;
  readonly got?: unknown;
  constructor(link: VerificationLink, message: string, evidence: { expected?: unknown; got?: unknown; cause?: unknown } = {}) {
    super(`${link}: ${message}`, evidence.cause !== undefined ? { cause: evidence.cause } : undefined);
    this.link = link;
    if ('expected' in evidence) this.expected = evidence.expected;
    if ('got' in evidence) this.got = evidence.got;
  }
}

export interface LinkCheck {
  link: VerificationLink;
  /** What was established, in one line (for CLIs and logs). */
  detail: string;
}

export interface VerifyStateOptions {
  /** The state key the caller asked for. */
  key: string;
  /** The subtree id the caller trusts; defaults to the id the creation request yields. */
  subtree?: string;
  /**
   * The signed creation request (e.g. from `getSubtree(id).request`). It is checked, not trusted:
   * its id must be the subtree's and the owner must have signed it. Gives the finality mode.
   */
  request?: unknown;
  /** The mode, when the caller knows it from elsewhere; must match the request's if both are given. */
  mode?: Mode;
  /** Require this value; `null` requires the key to be absent. */
  expectedValue?: JsonValue | null;
  /** Expected network id (also taken from the request). */
  network?: string;
  /**
   * The round at `response.height`. Defaults to the round the node embeds in the state response,
   * else it is fetched with `client`.
   */
  round?: RoundResponse;
  client?: { getRound(subtree: string, height: number): Promise<RoundResponse> };
  /** Called as each link is established, so a caller can report progress up to a failure. */
  onLink?: (check: LinkCheck) => void;
}

export interface VerifiedState {
  subtree: string;
  key: string;
  exists: boolean;
  value?: JsonValue;
  height: number;
  root: string;
  /** `digest("round", header)` of the round that commits to `root`. */
  roundHash: string;
  /** Keys whose valid signatures over the round hash were counted. */
  signers: string[];
  links: LinkCheck[];
}

export async function verifyStateResponse(response: StateResponse, opts: VerifyStateOptions): Promise<VerifiedState> {
  const checked: LinkCheck[] = [];
  const links = { push: (c: LinkCheck) => (checked.push(c), opts.onLink?.(c)) };
  const request = opts.request === undefined ? undefined : parseRequest(opts.request);
  const subtree = opts.subtree ?? (request ? toHex(subtreeId(request.subtree)) : undefined);
  if (subtree === undefined) throw new TypeError('verifyStateResponse needs the subtree id or its creation request');
  const mode = opts.mode ?? request?.subtree.mode;
  if (mode === undefined) throw new TypeError('verifyStateResponse needs the subtree mode or its creation request');
  const network = opts.network ?? request?.subtree.network;

  // 1. value → state root
  const { exists, value } = checkProof(response, opts);
  links.push({
    link: 'proof',
    detail: `${exists ? `value of "${opts.key}"` : `absence of "${opts.key}"`} proven against root ${response.root}`,
  });

  // 2. state root → round header
  const { round, source } = await roundFor(response, opts, subtree);
  const header = checkRound(round, { subtree, height: response.height, root: response.root, network });
  const hash = roundHash(header);
  const hashHex = toHex(hash);
  for (const reported of [round.hash, source === 'response' ? response.roundHash : undefined]) {
    if (reported !== undefined && reported !== hashHex) {
      throw new VerificationError('round', 'the round hash the node reports is not digest("round", header)', { expected: hashHex, got: reported });
    }
  }
  links.push({
    link: 'round',
    detail: `round ${header.height} (${source}) of subtree ${subtree} has stateRoot ${header.stateRoot}, hash ${hashHex}`,
  });

  // 3. round → finality under the subtree's mode
  const signers = checkSignatures(mode, hash, round.signatures);
  links.push({ link: 'signatures', detail: `round ${header.height} is final under ${mode.type}: signed by ${signers.join(', ')}` });

  // 4. mode and id → the owner's signed creation request
  if (request) {
    checkSubtree(request, { subtree, mode: opts.mode, network: opts.network });
    links.push({
      link: 'subtree',
      detail: `id ${subtree} = objectId(parent, ${request.subtree.owner}, "${request.subtree.name}"); creation request signed by the owner`,
    });
  }

  return {
    subtree,
    key: opts.key,
    exists,
    ...(exists ? { value } : {}),
    height: header.height,
    root: response.root,
    roundHash: hashHex,
    signers,
    links: checked,
  };
}

/**
 * Checks a subtree's signed creation request on its own (link `subtree`): it yields `subtree`
 * as its id, the owner signed it and its mode's signing rule is met. Returns the parsed request.
 */
export function verifySubtreeRequest(request: unknown, subtree: string): SubtreeRequest {
  const parsed = parseRequest(request);
  checkSubtree(parsed, { subtree, mode: undefined, network: undefined });
  return parsed;
}

function parseRequest(request: unknown): SubtreeRequest {
  try {
    return parseSubtreeRequest(request, null);
  } catch (e) {
    throw new VerificationError('subtree', `the creation request is malformed: ${message(e)}`, { cause: e });
  }
}

function checkProof(response: StateResponse, opts: VerifyStateOptions): { exists: boolean; value?: JsonValue } {
  if (response === null || typeof response !== 'object') throw new VerificationError('proof', 'the state response is not an object');
  if (response.key !== opts.key) {
    throw new VerificationError('proof', 'the response is for another key', { expected: opts.key, got: response.key });
  }
  if (!isHex32(response.root)) throw new VerificationError('proof', 'the response root is not 64 lowercase hex characters', { got: response.root });
  if (!Number.isSafeInteger(response.height) || response.height < 0) {
    throw new VerificationError('proof', 'the response height is not a non-negative integer', { got: response.height });
  }
  const claimed = response.exists === true;
  if (claimed && response.value === undefined) throw new VerificationError('proof', 'the response says the key exists but carries no value');
  if (!claimed && response.value !== undefined && response.value !== null) {
    throw new VerificationError('proof', 'the response says the key is absent but carries a value', { got: response.value });
  }
  if (opts.expectedValue !== undefined) {
    const want = opts.expectedValue === null ? 'absent' : jcsOrThrow(opts.expectedValue);
    const got = claimed ? jcsOrThrow(response.value as JsonValue) : 'absent';
    if (want !== got) {
      throw new VerificationError('proof', 'the value is not the expected one', { expected: opts.expectedValue, got: claimed ? response.value : null });
    }
  }
  try {
    verifyProof(response.proof, { key: opts.key, root: response.root, ...(claimed ? { value: response.value as JsonValue } : {}) });
  } catch (e) {
    const details = e instanceof DstpError ? e.details : undefined;
    throw new VerificationError('proof', message(e), { expected: details?.expected, got: details?.got, cause: e });
  }
  return claimed ? { exists: true, value: response.value as JsonValue } : { exists: false };
}

function jcsOrThrow(v: JsonValue): string {
  try {
    return jcs(v);
  } catch (e) {
    throw new VerificationError('proof', `value is not canonical JSON: ${message(e)}`, { cause: e });
  }
}

/**
 * The round to check against: the caller's, else the one embedded in the state response, else
 * fetched. The source does not matter for soundness — every field is checked — only for cost.
 */
async function roundFor(
  response: StateResponse,
  opts: VerifyStateOptions,
  subtree: string,
): Promise<{ round: RoundResponse; source: 'given' | 'response' | 'fetched' }> {
  if (opts.round) return { round: opts.round, source: 'given' };
  const embedded = response.round;
  if (embedded !== null && typeof embedded === 'object' && 'header' in embedded) {
    return { round: embedded as RoundResponse, source: 'response' };
  }
  if (!opts.client) throw new VerificationError('round', 'the response carries no round and no client was given to fetch it');
  try {
    return { round: await opts.client.getRound(subtree, response.height), source: 'fetched' };
  } catch (e) {
    throw new VerificationError('round', `cannot fetch round ${response.height}: ${message(e)}`, { cause: e });
  }
}

function checkRound(round: RoundResponse, want: { subtree: string; height: number; root: string; network: string | undefined }): RoundHeader {
  let header: RoundHeader;
  try {
    header = parseRoundHeader(round?.header);
  } catch (e) {
    throw new VerificationError('round', `the round header is malformed: ${message(e)}`, { cause: e });
  }
  const mismatch = (field: string, expected: unknown, got: unknown) =>
    new VerificationError('round', `header.${field} is not the expected one`, { expected, got });
  if (header.subtree !== want.subtree) throw mismatch('subtree', want.subtree, header.subtree);
  if (header.height !== want.height) throw mismatch('height', want.height, header.height);
  if (header.stateRoot !== want.root) throw mismatch('stateRoot', want.root, header.stateRoot);
  if (want.network !== undefined && header.network !== want.network) throw mismatch('network', want.network, header.network);
  return header;
}

function checkSignatures(mode: Mode, hash: Uint8Array, sigs: unknown): string[] {
  if (!Array.isArray(sigs)) throw new VerificationError('signatures', 'the round carries no signature list', { got: sigs });
  const wellFormed = sigs.filter(
    (s): s is SignerSig => s !== null && typeof s === 'object' && typeof s.signer === 'string' && typeof s.sig === 'string',
  );
  const valid = [...new Set(wellFormed.filter((s) => verifiesQuietly(s.signer, hash, s.sig)).map((s) => s.signer))];
  if (!isRoundFinal(mode, hash, wellFormed)) {
    throw new VerificationError('signatures', `the round's signatures do not meet the ${mode.type} finality rule`, {
      expected: roundSigners(mode),
      got: { validSigners: valid, signatures: sigs.length },
    });
  }
  return valid;
}

function checkSubtree(request: SubtreeRequest, want: { subtree: string; mode: Mode | undefined; network: string | undefined }): void {
  const spec = request.subtree;
  const id = toHex(subtreeId(spec));
  if (id !== want.subtree) {
    throw new VerificationError('subtree', 'the creation request yields another subtree id', { expected: want.subtree, got: id });
  }
  if (want.mode !== undefined && jcs(want.mode) !== jcs(spec.mode)) {
    throw new VerificationError('subtree', 'the creation request names another mode', { expected: want.mode, got: spec.mode });
  }
  if (want.network !== undefined && spec.network !== want.network) {
    throw new VerificationError('subtree', 'the creation request is for another network', { expected: want.network, got: spec.network });
  }
  const d = digest('subtree', spec);
  const ownerSigs = request.sigs.filter((s) => s.signer === spec.owner);
  if (!ownerSigs.some((s) => verifiesQuietly(s.signer, d, s.sig))) {
    throw new VerificationError('subtree', 'the creation request lacks a valid owner signature', {
      expected: spec.owner,
      got: request.sigs.map((s) => s.signer),
    });
  }
  let check;
  try {
    check = checkCreationSignatures(spec, request.sigs);
  } catch (e) {
    throw new VerificationError('subtree', `the creation request carries a bad signature: ${message(e)}`, { cause: e });
  }
  if (!check.ok) {
    throw new VerificationError('subtree', "the creation request does not meet its mode's signing rule", {
      expected: check.missing,
      got: check.signers,
    });
  }
}

function verifiesQuietly(signer: string, digest32: Uint8Array, sig: string): boolean {
  try {
    return verifyDigest(parsePublicKey(signer), digest32, fromHex(sig, 64));
  } catch {
    return false;
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const ACCEPT_FIELDS = ['v', 'network', 'tx', 'subtree', 'seq', 'time'] as const;

/**
 * Checks a signed acceptance (SPEC §6): the node's signature over `digest("accept", accept)` and,
 * optionally, that it names the transaction, subtree and network the caller sent. Such an
 * acceptance is evidence against a node that later drops or reorders the transaction.
 */
export function verifyAcceptance(
  accept: Acceptance,
  sig: string,
  nodePublicKey: string,
  expected: { tx?: string; subtree?: string; network?: string } = {},
): void {
  if (accept === null || typeof accept !== 'object') throw new VerificationError('acceptance', 'the acceptance is not an object');
  const fields = Object.keys(accept).sort();
  if (fields.join() !== [...ACCEPT_FIELDS].sort().join()) {
    throw new VerificationError('acceptance', 'the acceptance does not have exactly the fields of SPEC §6', { expected: ACCEPT_FIELDS, got: fields });
  }
  if (accept.v !== 1 || !isHex32(accept.tx) || !isHex32(accept.subtree) || typeof accept.network !== 'string') {
    throw new VerificationError('acceptance', 'the acceptance is malformed', { got: accept });
  }
  for (const f of ['seq', 'time'] as const) {
    if (!Number.isSafeInteger(accept[f]) || accept[f] < 0) {
      throw new VerificationError('acceptance', `accept.${f} is not a non-negative integer`, { got: accept[f] });
    }
  }
  for (const f of ['tx', 'subtree', 'network'] as const) {
    if (expected[f] !== undefined && accept[f] !== expected[f]) {
      throw new VerificationError('acceptance', `the acceptance names another ${f}`, { expected: expected[f], got: accept[f] });
    }
  }
  let ok: boolean;
  try {
    ok = verifyDigest(parsePublicKey(nodePublicKey), digest('accept', accept), sig);
  } catch (e) {
    throw new VerificationError('acceptance', `cannot check the node signature: ${message(e)}`, { cause: e });
  }
  if (!ok) throw new VerificationError('acceptance', "the node's signature over the acceptance does not verify", { expected: nodePublicKey, got: sig });
}

/** The reads `fetchVerifiedState` needs (a `DstpClient` has them). */
export interface StateSource {
  getState(subtree: string, key: string, opts?: { height?: number }): Promise<StateResponse>;
  getRound(subtree: string, height: number): Promise<RoundResponse>;
  getSubtree(id: string): Promise<{ request?: unknown }>;
}

/**
 * Reads a value and verifies it end to end. Without a `request` or `mode` from the caller, the
 * creation request is taken from the node's subtree head: safe, because it is checked against
 * the subtree id the caller asked for and must carry the owner's signature.
 */
export async function fetchVerifiedState(
  source: StateSource,
  subtree: string,
  key: string,
  opts: { height?: number; expectedValue?: JsonValue | null; request?: unknown; mode?: Mode; onLink?: (check: LinkCheck) => void } = {},
): Promise<{ state: StateResponse; verified: VerifiedState }> {
  const state = await source.getState(subtree, key, opts.height !== undefined ? { height: opts.height } : {});
  let request = opts.request;
  if (request === undefined && opts.mode === undefined) {
    let head;
    try {
      head = await source.getSubtree(subtree);
    } catch (e) {
      throw new VerificationError('subtree', `cannot fetch the subtree head: ${message(e)}`, { cause: e });
    }
    request = head.request;
    if (request === undefined) throw new VerificationError('subtree', 'the node did not return the signed creation request');
  }
  const verified = await verifyStateResponse(state, {
    key,
    subtree,
    client: source,
    ...(request !== undefined ? { request } : {}),
    ...(opts.mode !== undefined ? { mode: opts.mode } : {}),
    ...(opts.expectedValue !== undefined ? { expectedValue: opts.expectedValue } : {}),
    ...(opts.onLink ? { onLink: opts.onLink } : {}),
  });
  return { state, verified };
}
