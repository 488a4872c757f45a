import { z } from '@hono/zod-openapi';
import { MAX_STATE_KEY_CHARS } from '../core/limits.ts';

/**
 * Shared zod schemas of the HTTP API: path and query parameters are validated here (strictly:
 * unknown query parameters are refused); request bodies of signed objects are only DESCRIBED here
 * and validated by the core parsers inside the verbs, so there is one validation truth.
 */

export const HEX32_RE = /^[0-9a-f]{64}$/;

export const Hex32 = z
  .string()
  .regex(HEX32_RE, 'must be 64 lowercase hex characters')
  .openapi({ example: '9f2c4e0d8b7a6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e' });

export const PublicKeyString = z
  .string()
  .openapi({ description: 'A public key `scheme:hex` (SPEC §2); also an account address.', example: 'ed25519:3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29' });

export const JsonAny = z.unknown().openapi({ description: 'Any JSON value.' });

/** A decimal string of a non-negative safe integer, read as a number (leading zeros allowed). */
export function uintString(max = Number.MAX_SAFE_INTEGER, min = 0) {
  return z
    .string()
    .regex(/^[0-9]{1,16}$/, 'must be a non-negative integer')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
    .openapi({ type: 'integer', minimum: min, maximum: max });
}

export const IdParams = z.strictObject({
  id: Hex32.openapi({ param: { name: 'id', in: 'path', description: 'Subtree id (SPEC §3), 64 lowercase hex.' } }),
});

export const TxIdParams = z.strictObject({
  id: Hex32.openapi({ param: { name: 'id', in: 'path', description: 'Transaction id `digest("tx", tx)`, 64 lowercase hex.' } }),
});

export const HeightParam = uintString().openapi({
  param: { name: 'height', in: 'path', description: 'Round height (0 is the genesis round).' },
});

export const IdHeightParams = z.strictObject({ id: IdParams.shape.id, height: HeightParam });

/** State keys are UTF-8 strings of up to MAX_STATE_KEY_CHARS code points (≤ 2 UTF-16 units each). */
export const StateKey = z
  .string()
  .min(1)
  .max(MAX_STATE_KEY_CHARS * 2)
  .openapi({
    param: {
      name: 'key',
      in: 'path',
      description:
        'State key, e.g. `balance/ed25519:…` or `kv/name`. Slashes may be sent as they are or percent-encoded (`%2F`); ' +
        'both mean the same key. Percent-encode `%`, `?`, `#` and non-ASCII characters.',
    },
    example: 'supply',
  });

export const limitQuery = (def: number, max: number) =>
  uintString(max, 1).optional().openapi({ description: `Page size, 1..${max} (default ${def}).` });

export const Problem = z
  .looseObject({
    type: z.string().openapi({ example: 'urn:dstp:problem:validation_failed' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().openapi({ description: 'Stable machine-readable error code.', example: 'validation_failed' }),
    errors: z.array(z.object({ in: z.string(), path: z.string(), message: z.string() })).optional().openapi({
      description: 'With `validation_failed` from parameter checks: each failing field.',
    }),
    expected: z.unknown().optional().openapi({ description: 'With `nonce_mismatch`: the next nonce; with `network_mismatch`: the network id.' }),
  })
  .openapi('Problem');

const PROBLEM_TEXT: Record<number, string> = {
  400: 'Bad input (`validation_failed`, `malformed_json`, `duplicate_key`, `too_deeply_nested`, `too_many_values`, `request_aborted`, `network_mismatch`, core codes such as `invalid_tx`).',
  401: 'Unauthorized (`bad_signature`, `invalid_signature`, `unauthorized`, `missing_signatures`).',
  403: 'Forbidden (`forbidden`, `not_a_signer`, `reserved_call` for a user transaction calling `sys_*`).',
  422: 'Unprocessable (`unknown_parent`: the creation request nests under a subtree this node does not have).',
  404: 'Not found (`unknown_subtree`, `not_found`).',
  409: 'Conflict (`nonce_mismatch` with `expected`, `subtree_exists`, `subtree_halted`).',
  413: 'Payload too large (`payload_too_large`, `value_too_large`).',
  415: 'Body is not UTF-8 `application/json` (`unsupported_media_type`).',
};

/** problem+json responses for the given statuses, for route definitions. */
export function problems(...statuses: (keyof typeof PROBLEM_TEXT)[]) {
  const out: Record<number, { description: string; content: { 'application/problem+json': { schema: typeof Problem } } }> = {};
  for (const s of statuses) out[s] = { description: PROBLEM_TEXT[s]!, content: { 'application/problem+json': { schema: Problem } } };
  return out;
}

// ---- response shapes ----

export const Mode = z
  .unknown()
  .openapi({
    description: 'Security mode (SPEC §5): `{type:"poa",authority}` | `{type:"multisig",signers,threshold,proposalTimeoutMs}` | `{type:"pos",validators,epochRounds}`.',
    example: { type: 'poa', authority: 'ed25519:3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29' },
  });

export const SubtreeSummary = z
  .object({
    id: Hex32,
    owner: PublicKeyString,
    name: z.string(),
    parent: Hex32,
    program: z.string().openapi({ example: 'token' }),
    config: JsonAny,
    mode: Mode,
    status: z.enum(['active', 'halted', 'syncing', 'following']).openapi({
      description: 'A hosted subtree is `active` or `halted`; a followed one (SPEC §12) shows its follow\'s status.',
    }),
    height: z.number().int().openapi({ description: 'Latest final round.' }),
    root: Hex32.openapi({ description: 'State root after round `height`.' }),
    headHash: Hex32.openapi({ description: 'Hash of round `height`.' }),
    logSize: z.number().int().openapi({ description: 'Accepted transactions so far (the next `seq`).' }),
    createdAt: z.number().int().openapi({ description: 'ms since epoch (metadata).' }),
    origin: z.string().optional().openapi({ description: 'Followed subtrees (SPEC §12): the base URL of the node hosting it.' }),
    verify: z.enum(['full', 'headers']).optional().openapi({ description: 'Followed subtrees: how this node checks the origin\'s rounds.' }),
  })
  .openapi('SubtreeSummary');

export const SubtreeHead = SubtreeSummary.extend({
  request: JsonAny.openapi({ description: 'The signed creation request `{subtree, sigs}` as committed.' }),
  unsafeThreshold: z
    .literal(true)
    .optional()
    .openapi({ description: 'Multisig: present when the signers in force break SPEC §5 (2t − n ≥ 1, ≥ 2 when the node key signs); the subtree keeps working.' }),
}).openapi('SubtreeHead');

export const RoundSignature = z.object({ signer: PublicKeyString, sig: z.string() }).openapi('RoundSignature');

export const RoundHeader = z
  .object({
    v: z.literal(1),
    network: z.string(),
    subtree: Hex32,
    height: z.number().int(),
    prev: Hex32,
    stateRoot: Hex32,
    txRoot: Hex32,
    receiptsRoot: Hex32,
    txCount: z.number().int(),
    proposer: PublicKeyString,
    time: z.number().int(),
  })
  .openapi('RoundHeader', { description: 'SPEC §8 round header; its hash is `digest("round", header)`.' });

export const Round = z
  .object({
    subtree: Hex32,
    height: z.number().int(),
    hash: Hex32,
    header: RoundHeader,
    signatures: z.array(RoundSignature),
    txs: z.array(Hex32).openapi({ description: 'Transaction ids in execution order.' }),
    status: z.enum(['final', 'proposed']),
    createdAt: z.number().int(),
  })
  .openapi('Round');

export const Proof = z
  .object({
    key: z.string(),
    root: Hex32,
    leaf: z.object({ path: Hex32, valueHash: Hex32 }).nullable(),
    siblings: z.array(Hex32).openapi({ description: 'Deepest first; the leaf sits at depth `siblings.length`.' }),
  })
  .openapi('Proof', { description: 'SPEC §4 inclusion or exclusion proof.' });

export const Acceptance = z
  .object({
    v: z.literal(1),
    network: z.string(),
    tx: Hex32,
    subtree: Hex32,
    seq: z.number().int(),
    time: z.number().int(),
  })
  .openapi('Acceptance', { description: 'SPEC §6 acceptance, signed by the node key over `digest("accept", accept)`.' });

export const AcceptResponse = z
  .object({ id: Hex32, accept: Acceptance, sig: z.string() })
  .openapi('AcceptResponse');

export const Receipt = z
  .object({ tx: Hex32, index: z.number().int(), status: z.enum(['ok', 'failed']), code: z.string().optional(), gas: z.number().int().optional() })
  .openapi('Receipt');

// ---- request bodies (described for the document; the core parsers validate them) ----

export const TxEnvelopeDoc = z
  .object({
    tx: z.object({
      v: z.literal(1),
      network: z.string().openapi({ description: 'Must equal the node network (`GET /v1/info`).' }),
      subtree: Hex32,
      sender: PublicKeyString,
      nonce: z.number().int().min(0).openapi({ description: '0, 1, 2, … per (subtree, sender), no gaps.' }),
      call: z.string().regex(/^[a-z][a-z0-9_]{0,31}$/).openapi({ example: 'transfer' }),
      args: z.record(z.string(), z.unknown()).openapi({ description: '≤ 16 KiB canonical (JCS).', example: { to: 'ed25519:…', amount: '2' } }),
    }),
    sig: z.string().regex(/^[0-9a-f]{128}$/).openapi({ description: 'Sender signature over `digest("tx", tx)`.' }),
  })
  .strict()
  .openapi('TxEnvelope', { description: 'SPEC §6 signed transaction. Unknown fields are refused.' });

export const TxBatchDoc = z
  .object({ txs: z.array(TxEnvelopeDoc).min(1).max(1000) })
  .strict()
  .openapi('TxBatch');

export const SubtreeRequestDoc = z
  .object({
    subtree: z.object({
      v: z.literal(1),
      network: z.string(),
      parent: Hex32.openapi({ description: 'The root id (64 zeros) for now.' }),
      owner: PublicKeyString,
      name: z.string().regex(/^[a-z0-9._-]{1,64}$/),
      program: z.enum(['kv', 'token']),
      config: JsonAny.openapi({ description: 'kv: `{writers: "any" | [keys]}`; token: `{symbol, decimals, minter}`.' }),
      mode: Mode,
      genesis: z.array(z.object({ key: z.string(), value: JsonAny })),
    }),
    sigs: z.array(z.object({ signer: PublicKeyString, sig: z.string() })).openapi({
      description: 'Signatures over `digest("subtree", subtree)`: the owner and what the mode requires.',
    }),
  })
  .strict()
  .openapi('SubtreeRequest', { description: 'SPEC §5 creation request.' });

/** A request body that must be JSON but is judged by the core parser, documented as `ref`. */
export function jsonBody(ref: string, description: string) {
  return {
    required: true,
    description,
    content: { 'application/json': { schema: z.unknown().openapi({ $ref: `#/components/schemas/${ref}` } as never) } },
  };
}

export const DOC_SCHEMAS = { TxEnvelope: TxEnvelopeDoc, TxBatch: TxBatchDoc, SubtreeRequest: SubtreeRequestDoc } as const;
