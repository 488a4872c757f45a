import { formatAmount, isCanonicalAmount, MAX_AMOUNT } from '../core/amount.ts';
import type { SignerSig } from '../core/consensus/signing-rules.ts';
import type { Mode } from '../core/consensus/mode.ts';
import { digest } from '../core/digest.ts';
import { fail } from '../core/errors.ts';
import { fromHex, toHex } from '../core/hex.ts';
import type { JsonValue } from '../core/jcs.ts';
import { signDigest } from '../core/keys.ts';
import { ROOT_ID_HEX } from '../core/object-id.ts';
import { balanceKey, SUPPLY_KEY } from '../core/programs/token-keys.ts';
import type { ProgramRegistry } from '../core/programs/registry.ts';
import { parseSubtreeSpec, subtreeId, type GenesisEntry, type SubtreeRequest, type SubtreeSpec } from '../core/subtree-request.ts';
import { parseTx, txIdHex, type Tx, type TxEnvelope } from '../core/tx.ts';
import { publicKeyOf, randomBytes, secretBytes, type SigningKey } from './keys.ts';

/**
 * Building and signing what a client sends: transactions (SPEC §6) and subtree creation requests
 * (SPEC §5). Everything is validated with the core's strict parsers before it is signed, so a
 * malformed object fails here with a precise message instead of as a 400 from the node.
 */

/** Signs a 32-byte digest; BIP-340 gets fresh auxiliary randomness, as BIP-340 recommends. */
export function signDigestHex(key: SigningKey, digest32: Uint8Array): string {
  const aux = key.scheme === 'bip340' ? randomBytes(32) : undefined;
  return toHex(signDigest(key.scheme, secretBytes(key), digest32, aux));
}

export interface TransactionDraft {
  network: string;
  subtree: string;
  key: SigningKey;
  nonce: number;
  call: string;
  args: Record<string, JsonValue>;
}

export interface SignedTransaction {
  /** `digest("tx", tx)` as hex: the id the node will answer with. */
  id: string;
  envelope: TxEnvelope;
}

export function signTransaction(d: TransactionDraft): SignedTransaction {
  const tx: Tx = parseTx({
    v: 1,
    network: d.network,
    subtree: d.subtree,
    sender: publicKeyOf(d.key),
    nonce: d.nonce,
    call: d.call,
    args: d.args,
  });
  const id = txIdHex(tx);
  return { id, envelope: { tx, sig: signDigestHex(d.key, fromHex(id, 32)) } };
}

/** A creation request before validation; `parent` defaults to the root, `genesis` to empty. */
export interface SubtreeDraft {
  network: string;
  parent?: string;
  owner: string;
  name: string;
  program: string;
  config: JsonValue;
  mode: Mode;
  genesis?: GenesisEntry[];
}

/**
 * The `subtree` object to sign, strictly validated (mode, genesis; with `programs`, also that the
 * program exists there and takes the config and genesis — the node checks that anyway).
 */
export function buildSubtreeRequest(d: SubtreeDraft, programs: ProgramRegistry | null = null): SubtreeSpec {
  return parseSubtreeSpec({
    v: 1,
    network: d.network,
    parent: d.parent ?? ROOT_ID_HEX,
    owner: d.owner,
    name: d.name,
    program: d.program,
    config: d.config,
    mode: d.mode,
    genesis: d.genesis ?? [],
  }, programs);
}

/**
 * The body of `POST /v1/subtrees`: the spec and one signature per key over
 * `digest("subtree", subtree)`. The owner must be among the keys; signatures the node adds itself
 * (its own key as authority, for an admin caller) are not needed here.
 */
export function signSubtreeRequest(spec: SubtreeSpec, keys: readonly SigningKey[]): SubtreeRequest {
  const d = digest('subtree', spec);
  const sigs: SignerSig[] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    const signer = publicKeyOf(key);
    if (seen.has(signer)) continue;
    seen.add(signer);
    sigs.push({ signer, sig: signDigestHex(key, d) });
  }
  if (!seen.has(spec.owner)) fail('invalid_subtree', 'the owner must sign the creation request', { owner: spec.owner });
  return { subtree: spec, sigs };
}

/** The id the subtree will have: `objectId(parent, owner, name)`, hex. */
export function subtreeIdHex(spec: Pick<SubtreeSpec, 'parent' | 'owner' | 'name'>): string {
  return toHex(subtreeId(spec));
}

/** An amount as a canonical decimal string (SPEC §1) from a string, bigint or safe integer. */
export function toAmount(v: string | bigint | number): string {
  if (typeof v === 'bigint') {
    if (v < 0n || v > MAX_AMOUNT) fail('invalid_range', 'amount out of range', { got: v.toString() });
    return formatAmount(v);
  }
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) fail('invalid_range', 'amount must be a non-negative safe integer (use a string or bigint)', { got: v });
    return formatAmount(BigInt(v));
  }
  if (!isCanonicalAmount(v)) fail('invalid_range', 'amount must be a canonical decimal string (digits, no leading zeros)', { got: v });
  return v;
}

/**
 * Token genesis entries from `{ account: amount }`, with `supply` = the sum (SPEC §7). The token
 * program never stores zero, so a zero balance is refused rather than silently dropped.
 */
export function tokenGenesis(balances: Readonly<Record<string, string | bigint | number>>): GenesisEntry[] {
  const entries: GenesisEntry[] = [];
  let supply = 0n;
  for (const [account, raw] of Object.entries(balances)) {
    const amount = toAmount(raw);
    if (amount === '0') fail('invalid_genesis', 'a genesis balance must be > 0 (zero is not stored)', { account });
    supply += BigInt(amount);
    entries.push({ key: balanceKey(account), value: amount });
  }
  if (entries.length > 0) entries.push({ key: SUPPLY_KEY, value: formatAmount(supply) });
  return entries;
}
