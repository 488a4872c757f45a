import { createRoute, z } from '@hono/zod-openapi';
import { Hex32, IdParams, JsonAny, Proof, RoundHeader, RoundSignature, StateKey, problems, uintString } from '../../schemas.ts';

/** A global-tree entry (SPEC §9); a light follow's head adds `"verify": "headers"` (SPEC §12). */
const GlobalEntrySchema = z.object({
  root: Hex32,
  height: z.number().int(),
  round: Hex32,
  verify: z.literal('headers').optional().openapi({ description: 'Present on the head of a light follow: its links and signatures were checked here, not its state.' }),
});

export const Checkpoint = z
  .object({
    v: z.literal(1),
    network: z.string(),
    seq: z.number().int(),
    globalRoot: Hex32.openapi({ description: 'Root of the global tree (`hex(subtreeId)` → `{root, height, round}`).' }),
    prev: Hex32.openapi({ description: '`digest("checkpoint", previous)`; 32 zero bytes for seq 0.' }),
    time: z.number().int(),
  })
  .openapi('Checkpoint');

export const CheckpointView = z
  .object({
    checkpoint: Checkpoint,
    hash: Hex32.openapi({ description: '`digest("checkpoint", checkpoint)`.' }),
    sig: z.string().openapi({ description: "The node key's ed25519 signature over `hash` (hex)." }),
    signer: z.string(),
    logSize: z.number().int().openapi({ description: 'Size of the checkpoint log this checkpoint completes (`seq + 1`).' }),
    logRoot: Hex32.openapi({ description: 'RFC 6962 root of the checkpoint log at `logSize` (leaf i = `jcs(checkpoint i)`).' }),
    note: z.string().openapi({ description: 'C2SP tlog-checkpoint signed note (origin, size, base64 root, `dstp-global <globalRoot>`).' }),
    noteKey: z.string().openapi({ description: 'Note verifier key `<origin>+<hex key id>+<base64(0x01 || pubkey)>`.' }),
  })
  .openapi('CheckpointView');

const noteOrJson = {
  description: 'The checkpoint: JSON by default, the signed note with `Accept: text/plain`',
  content: {
    'application/json': { schema: CheckpointView },
    'text/plain': { schema: z.string().openapi({ description: 'C2SP tlog-checkpoint signed note.' }) },
  },
};

const SeqParams = z.strictObject({
  seq: uintString().openapi({ param: { name: 'seq', in: 'path', description: 'Checkpoint sequence number (0-based log index).' } } as never),
});

export const latestCheckpointRoute = createRoute({
  method: 'get',
  path: '/v1/checkpoints/latest',
  tags: ['checkpoints'],
  summary: 'The latest checkpoint (JSON, or the signed note with Accept: text/plain)',
  responses: { 200: noteOrJson, ...problems(404) },
});

export const getCheckpointRoute = createRoute({
  method: 'get',
  path: '/v1/checkpoints/{seq}',
  tags: ['checkpoints'],
  summary: 'One checkpoint (JSON, or the signed note with Accept: text/plain)',
  request: { params: SeqParams },
  responses: { 200: noteOrJson, ...problems(400, 404) },
});

export const inclusionRoute = createRoute({
  method: 'get',
  path: '/v1/checkpoints/{seq}/inclusion',
  tags: ['checkpoints'],
  summary: 'RFC 6962 inclusion proof of checkpoint `seq` in the checkpoint log',
  request: {
    params: SeqParams,
    query: z.strictObject({ size: uintString(Number.MAX_SAFE_INTEGER, 1).optional().openapi({ description: 'Log size (default: latest).' } as never) }),
  },
  responses: {
    200: {
      description: 'Leaf hash `H(0x00 || jcs(checkpoint))`, audit path (leaf to root) and the root at `size`',
      content: {
        'application/json': {
          schema: z
            .object({ seq: z.number().int(), size: z.number().int(), leafHash: Hex32, root: Hex32, proof: z.array(Hex32), checkpoint: Checkpoint })
            .openapi('CheckpointInclusion'),
        },
      },
    },
    ...problems(400, 404),
  },
});

export const consistencyRoute = createRoute({
  method: 'get',
  path: '/v1/checkpoints/consistency',
  tags: ['checkpoints'],
  summary: 'RFC 6962 consistency proof between two sizes of the checkpoint log',
  request: {
    query: z.strictObject({
      from: uintString().openapi({ description: 'Old log size.' } as never),
      to: uintString().optional().openapi({ description: 'New log size (default: latest).' } as never),
    }),
  },
  responses: {
    200: {
      description: 'Roots at both sizes and the proof (RFC 9162 §2.1.4)',
      content: {
        'application/json': {
          schema: z
            .object({ from: z.number().int(), to: z.number().int(), fromRoot: Hex32, toRoot: Hex32, proof: z.array(Hex32) })
            .openapi('CheckpointConsistency'),
        },
      },
    },
    ...problems(400, 404),
  },
});

export const otsRoute = createRoute({
  method: 'get',
  path: '/v1/checkpoints/{seq}/ots',
  tags: ['checkpoints'],
  summary: "OpenTimestamps proof (.ots) of the log root at size `seq + 1`",
  description:
    'A standard detached timestamp file: file hash op sha256, file digest = the log root. Pending calendar attestations until a ' +
    'Bitcoin block header attestation arrives (`X-Anchor-Status: pending | confirmed`). 404 while no calendar has answered yet.',
  request: { params: SeqParams },
  responses: {
    200: { description: 'The .ots file', content: { 'application/vnd.opentimestamps.v1': { schema: z.string().openapi({ format: 'binary' }) } } },
    ...problems(400, 404),
  },
});

export const globalProofRoute = createRoute({
  method: 'get',
  path: '/v1/subtrees/{id}/global-proof',
  tags: ['checkpoints'],
  summary: "A top-level subtree's entry in the global tree of a checkpoint, with its proof",
  request: {
    params: IdParams,
    query: z.strictObject({ seq: uintString().optional().openapi({ description: 'Checkpoint (default: latest).' } as never) }),
  },
  responses: {
    200: {
      description: 'Entry `{root, height, round}` under key `hex(id)` and the SPEC §4 proof against `globalRoot`',
      content: {
        'application/json': {
          schema: z
            .object({
              subtree: Hex32,
              seq: z.number().int(),
              globalRoot: Hex32,
              entry: GlobalEntrySchema,
              proof: Proof,
            })
            .openapi('GlobalProof'),
        },
      },
    },
    ...problems(400, 404),
  },
});

export const buildCheckpointRoute = createRoute({
  method: 'post',
  path: '/v1/checkpoints',
  tags: ['checkpoints'],
  summary: 'Build a checkpoint now if any subtree head moved (admin token)',
  description: 'For hosts without a scheduler and for tests. Needs `Authorization: Bearer <admin token>`; no body.',
  security: [{ adminToken: [] }],
  responses: {
    200: {
      description: 'What the build did',
      content: {
        'application/json': {
          schema: z
            .object({
              status: z.enum(['built', 'unchanged', 'not_leader', 'lease_lost', 'race']),
              seq: z.number().int().optional(),
              hash: Hex32.optional(),
              globalRoot: Hex32.optional(),
              logRoot: Hex32.optional(),
              changed: z.number().int().optional(),
            })
            .openapi('CheckpointBuild'),
        },
      },
    },
    ...problems(401, 415),
  },
});

export const ChainView = z
  .object({
    subtree: Hex32,
    key: z.string(),
    exists: z.boolean(),
    value: JsonAny.optional(),
    height: z.number().int().openapi({ description: 'The height the checkpoint\'s global tree holds for this subtree (may lag its head).' }),
    root: Hex32,
    proof: Proof,
    roundHash: Hex32,
    round: z.object({ header: RoundHeader, signatures: z.array(RoundSignature) }),
    chain: z.object({
      parents: z
        .array(
          z.object({
            subtree: Hex32,
            key: z.string(),
            exists: z.boolean(),
            value: JsonAny.optional(),
            height: z.number().int(),
            root: Hex32,
            proof: Proof,
            roundHash: Hex32,
            round: z.object({ header: RoundHeader, signatures: z.array(RoundSignature) }),
            request: JsonAny.openapi({ description: "The parent's signed creation request (its id and mode)." }),
          }),
        )
        .optional()
        .openapi({
          description:
            'Nested subtrees only: immediate parent first, up to the top-level ancestor. Each is the parent\'s state proof of ' +
            '`sys/child/<child>` = `{root, height, round}` of the level below, read at the height the level above holds.',
        }),
      global: z.object({ seq: z.number().int(), globalRoot: Hex32, entry: GlobalEntrySchema, proof: Proof }),
      checkpoint: z.object({ checkpoint: Checkpoint, hash: Hex32, sig: z.string(), signer: z.string() }),
      log: z.object({ size: z.number().int(), index: z.number().int(), leafHash: Hex32, root: Hex32, proof: z.array(Hex32) }),
      note: z.string().openapi({ description: 'C2SP tlog-checkpoint note of log size `log.size`.' }),
      ots: z.string().nullable().openapi({ description: 'base64 `.ots` file of `log.root`; null until a calendar answered.' }),
      anchor: z.object({ status: z.enum(['pending', 'confirmed']), bitcoinHeight: z.number().int().nullable() }).nullable(),
    }),
  })
  .openapi('ProofChain');

export const ChainParams = z.strictObject({ id: IdParams.shape.id, key: StateKey });

/** Documented with `{key}`; served with a wildcard so keys may hold `/` (like the state route). */
export const chainRoute = createRoute({
  method: 'get',
  path: '/v1/subtrees/{id}/chain/{key}',
  tags: ['checkpoints'],
  summary: 'A value with its full proof chain: state proof → signed round → global tree → checkpoint → log → note → .ots',
  description:
    'Everything to verify a value offline up to Bitcoin (SPEC §9). The value is read at the height the chosen checkpoint holds for ' +
    'the subtree (the global tree lags by design). `seq` chooses that checkpoint (default: the last one of `size`), `size` the log ' +
    'size whose note and `.ots` close the chain (default: latest). A nested subtree proves through `chain.parents`: each ' +
    "parent's `sys/child/<child>` entry up to its top-level ancestor, whose entry is in the global tree.",
  request: {
    params: ChainParams,
    query: z.strictObject({
      seq: uintString().optional().openapi({ description: 'Checkpoint whose global tree is used.' } as never),
      size: uintString(Number.MAX_SAFE_INTEGER, 1).optional().openapi({ description: 'Log size of the note and .ots (default: latest).' } as never),
    }),
  },
  responses: {
    200: { description: 'The value and its proof chain', content: { 'application/json': { schema: ChainView } } },
    ...problems(400, 404),
  },
});
