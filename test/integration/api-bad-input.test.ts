import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { fromHex, toHex } from '../../src/core/hex.ts';
import { signDigest } from '../../src/core/keys.ts';
import { digest } from '../../src/core/digest.ts';
import { txId } from '../../src/core/tx.ts';
import { adminHeader, call, party, signedTx, startServer, subtreeRequest, type Res, type TestServer } from '../helpers/server.ts';

/**
 * Bad input, route by route: every case must answer its stable problem code with
 * application/problem+json, never a 5xx, and must leave the node exactly as it was (subtree list,
 * heads, transaction log, rounds, tree nodes, values and outbox compared before and after).
 */
let s: TestServer;
const alice = party('api-bad-alice');
const bob = party('api-bad-bob');
const mallory = party('api-bad-mallory');
const carol = party('api-bad-carol');
let ext: string;
let proposalHash: string;
let coin: string;
let notes: string;
let coinRequest: ReturnType<typeof subtreeRequest>;
const UNKNOWN = 'ab'.repeat(32);

const tokenSpec = () => ({
  network: s.network,
  owner: alice,
  name: 'coin',
  program: 'token' as const,
  config: { symbol: 'CO', decimals: 0, minter: alice.key },
  authority: s.nodeKey,
  genesis: [
    { key: `balance/${alice.key}`, value: '10' },
    { key: 'supply', value: '10' },
  ],
});

beforeAll(async () => {
  s = await startServer();
  coinRequest = subtreeRequest(tokenSpec());
  coin = coinRequest.id;
  expect((await call(s.url, 'POST', '/v1/subtrees', { json: coinRequest.body, headers: adminHeader() })).status).toBe(201);
  const n = subtreeRequest({ network: s.network, owner: bob, name: 'notes', program: 'kv', config: { writers: 'any' }, authority: s.nodeKey });
  notes = n.id;
  expect((await call(s.url, 'POST', '/v1/subtrees', { json: n.body, headers: adminHeader() })).status).toBe(201);
  // History to protect: one executed round and one pending transaction (alice's next nonce is 2).
  const t0 = signedTx(alice, { network: s.network, subtree: coin, nonce: 0, call: 'transfer', args: { to: bob.key, amount: '1' } });
  expect((await call(s.url, 'POST', '/v1/transactions', { json: t0 })).status).toBe(202);
  expect((await call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() })).status).toBe(200);
  // A subtree whose authority is outside the node, with an open proposal at height 1.
  const e = subtreeRequest({ network: s.network, owner: alice, name: 'ext', program: 'kv', config: { writers: 'any' }, authority: carol.key }, [carol]);
  ext = e.id;
  expect((await call(s.url, 'POST', '/v1/subtrees', { json: e.body })).status).toBe(201);
  const t2 = signedTx(alice, { network: s.network, subtree: ext, nonce: 0, call: 'set', args: { key: 'a', value: 1 } });
  expect((await call(s.url, 'POST', '/v1/transactions', { json: t2 })).status).toBe(202);
  expect((await call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() })).status).toBe(200);
  const open = await call(s.url, 'GET', `/v1/subtrees/${ext}/proposals?status=open`);
  expect(open.body.items).toHaveLength(1);
  proposalHash = open.body.items[0].hash;

  const t1 = signedTx(alice, { network: s.network, subtree: coin, nonce: 1, call: 'transfer', args: { to: bob.key, amount: '1' } });
  expect((await call(s.url, 'POST', '/v1/transactions', { json: t1 })).status).toBe(202);
});

afterAll(async () => {
  await s?.close();
});

/** Everything a bad request must not touch, through the API and in the database itself. */
async function snapshot(): Promise<string> {
  const list = await call(s.url, 'GET', '/v1/subtrees?limit=200');
  const heads = await Promise.all(list.body.items.map((x: { id: string }) => call(s.url, 'GET', `/v1/subtrees/${x.id}`).then((r) => r.body)));
  const db = s.ctx!.db.read;
  const counts = await db.execute(
    `SELECT (SELECT count(*) FROM subtrees), (SELECT count(*) FROM txs), (SELECT count(*) FROM rounds),
            (SELECT count(*) FROM events), (SELECT count(*) FROM smt_tree), (SELECT count(*) FROM smt_roots), (SELECT count(*) FROM smt_values),
            (SELECT count(*) FROM proposals), (SELECT count(*) FROM expiry_votes)`,
  );
  const props = await db.execute('SELECT hash, status, signatures FROM proposals ORDER BY hash');
  const log = await db.execute('SELECT subtree, seq, id, status, height FROM txs ORDER BY subtree, seq');
  const rounds = await db.execute('SELECT subtree, height, hash FROM rounds ORDER BY subtree, height');
  return JSON.stringify({ list: list.body, heads, counts: counts.rows, log: log.rows, rounds: rounds.rows, props: props.rows });
}

interface Case {
  name: string;
  method: 'GET' | 'POST' | 'DELETE';
  path: string | (() => string);
  json?: unknown | (() => unknown);
  raw?: string | Uint8Array<ArrayBuffer> | (() => string | Uint8Array<ArrayBuffer>);
  headers?: Record<string, string>;
  status: number;
  code: string;
  check?: (r: Res) => void;
}

const JSON_CT = { 'content-type': 'application/json' };
const tx = (over: Partial<{ network: string; subtree: string; nonce: number; call: string; args: Record<string, unknown> }> = {}, from = alice) =>
  signedTx(from, {
    network: over.network ?? s.network,
    subtree: over.subtree ?? coin,
    nonce: over.nonce ?? 2,
    call: over.call ?? 'transfer',
    args: (over.args ?? { to: bob.key, amount: '1' }) as never,
  });
const mutate = (f: (env: any) => void) => () => {
  const env = structuredClone(tx()) as any;
  f(env);
  return env;
};
const request = (f: (body: any) => void, spec = tokenSpec) => () => {
  const b = structuredClone(subtreeRequest(spec()).body) as any;
  f(b);
  return b;
};

const transactionCases: Case[] = [
  { name: 'malformed JSON', method: 'POST', path: '/v1/transactions', raw: '{"tx":', headers: JSON_CT, status: 400, code: 'malformed_json' },
  { name: 'empty JSON body', method: 'POST', path: '/v1/transactions', raw: '', headers: JSON_CT, status: 400, code: 'malformed_json' },
  { name: 'text/plain body', method: 'POST', path: '/v1/transactions', raw: '{}', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
  { name: 'form body', method: 'POST', path: '/v1/transactions', raw: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'unsupported_media_type' },
  { name: 'charset=utf-16', method: 'POST', path: '/v1/transactions', json: () => tx(), headers: { 'content-type': 'application/json; charset=utf-16' }, status: 415, code: 'unsupported_media_type' },
  { name: 'charset=latin1', method: 'POST', path: '/v1/transactions', json: () => tx(), headers: { 'content-type': 'application/json;charset=ISO-8859-1' }, status: 415, code: 'unsupported_media_type' },
  {
    name: 'duplicate key in args (first says 1, last says 9)',
    method: 'POST',
    path: '/v1/transactions',
    raw: () => JSON.stringify(tx()).replace('"amount":"1"', '"amount":"1","amount":"9"'),
    headers: JSON_CT,
    status: 400,
    code: 'duplicate_key',
    check: (r) => expect(r.body.at).toBe('$.tx.args.amount'),
  },
  {
    name: 'duplicate top-level key, spelled with an escape',
    method: 'POST',
    path: '/v1/transactions',
    raw: () => JSON.stringify(tx()).replace(/}$/, ',"\\u0073ig":"00"}'),
    headers: JSON_CT,
    status: 400,
    code: 'duplicate_key',
    check: (r) => expect(r.body.key).toBe('sig'),
  },
  { name: 'nested 100 deep', method: 'POST', path: '/v1/transactions', raw: '['.repeat(100) + ']'.repeat(100), headers: JSON_CT, status: 400, code: 'too_deeply_nested' },
  { name: 'brackets inside strings do not count as depth', method: 'POST', path: '/v1/transactions', raw: () => JSON.stringify({ x: '['.repeat(500) }), headers: JSON_CT, status: 400, code: 'invalid_tx' },
  { name: 'invalid UTF-8', method: 'POST', path: '/v1/transactions', raw: () => new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), headers: JSON_CT, status: 400, code: 'malformed_json' },
  { name: 'body is an array', method: 'POST', path: '/v1/transactions', json: [], status: 400, code: 'invalid_tx' },
  { name: 'body is null', method: 'POST', path: '/v1/transactions', json: null, status: 400, code: 'invalid_tx' },
  { name: 'missing sig', method: 'POST', path: '/v1/transactions', json: mutate((e) => delete e.sig), status: 400, code: 'invalid_tx' },
  { name: 'missing tx.nonce', method: 'POST', path: '/v1/transactions', json: mutate((e) => delete e.tx.nonce), status: 400, code: 'invalid_tx' },
  { name: 'extra top-level field', method: 'POST', path: '/v1/transactions', json: mutate((e) => (e.extra = 1)), status: 400, code: 'invalid_tx' },
  { name: 'extra tx field', method: 'POST', path: '/v1/transactions', json: mutate((e) => (e.tx.fee = '1')), status: 400, code: 'invalid_tx' },
  { name: 'nonce as a string', method: 'POST', path: '/v1/transactions', json: mutate((e) => (e.tx.nonce = '2')), status: 400, code: 'invalid_tx' },
  { name: 'negative nonce', method: 'POST', path: '/v1/transactions', json: mutate((e) => (e.tx.nonce = -1)), status: 400, code: 'invalid_tx' },
  { name: 'v = 2', method: 'POST', path: '/v1/transactions', json: mutate((e) => (e.tx.v = 2)), status: 400, code: 'invalid_tx' },
  { name: 'uppercase subtree hex', method: 'POST', path: '/v1/transactions', json: mutate((e) => (e.tx.subtree = e.tx.subtree.toUpperCase())), status: 400, code: 'invalid_tx' },
  { name: 'uppercase sig hex', method: 'POST', path: '/v1/transactions', json: mutate((e) => (e.sig = e.sig.toUpperCase())), status: 400, code: 'invalid_tx' },
  { name: 'short sig', method: 'POST', path: '/v1/transactions', json: mutate((e) => (e.sig = e.sig.slice(2))), status: 400, code: 'invalid_tx' },
  { name: 'sender is not a key', method: 'POST', path: '/v1/transactions', json: mutate((e) => (e.tx.sender = 'alice')), status: 400, code: 'invalid_key' },
  { name: 'args not an object', method: 'POST', path: '/v1/transactions', json: mutate((e) => (e.tx.args = [1])), status: 400, code: 'invalid_args' },
  { name: 'unknown call', method: 'POST', path: '/v1/transactions', json: () => tx({ call: 'steal' }), status: 400, code: 'unknown_call' },
  { name: 'bad amount', method: 'POST', path: '/v1/transactions', json: () => tx({ args: { to: bob.key, amount: '-1' } }), status: 400, code: 'invalid_args' },
  {
    name: 'oversized body (> 64 KiB)',
    method: 'POST',
    path: '/v1/transactions',
    json: mutate((e) => (e.tx.args.memo = 'x'.repeat(70_000))),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'oversized args (> 16 KiB canonical)',
    method: 'POST',
    path: '/v1/transactions',
    json: () => tx({ subtree: notes, nonce: 0, call: 'set', args: { key: 'big', value: 'y'.repeat(17_000) } }),
    status: 413,
    code: 'value_too_large',
  },
  { name: 'unknown subtree', method: 'POST', path: '/v1/transactions', json: () => tx({ subtree: UNKNOWN, nonce: 0 }), status: 404, code: 'unknown_subtree' },
  { name: 'transfer from a key with no balance (admission)', method: 'POST', path: '/v1/transactions', json: () => tx({ nonce: 0 }, mallory), status: 409, code: 'insufficient_balance' },
  { name: 'transfer beyond the balance (admission)', method: 'POST', path: '/v1/transactions', json: () => tx({ args: { to: bob.key, amount: '1000' } }), status: 409, code: 'insufficient_balance' },
  { name: 'mint by a non-minter (admission)', method: 'POST', path: '/v1/transactions', json: () => tx({ call: 'mint', args: { to: bob.key, amount: '1' } }, bob), status: 403, code: 'unauthorized' },
  {
    name: 'wrong network',
    method: 'POST',
    path: '/v1/transactions',
    json: () => tx({ network: 'other-net' }),
    status: 400,
    code: 'network_mismatch',
    check: (r) => expect(r.body.expected).toBe(s.network),
  },
  {
    name: 'signature by another key',
    method: 'POST',
    path: '/v1/transactions',
    json: () => {
      const env = tx();
      return { tx: env.tx, sig: toHex(signDigest('ed25519', mallory.secret, txId(env.tx))) };
    },
    status: 401,
    code: 'bad_signature',
  },
  { name: 'signature of another tx', method: 'POST', path: '/v1/transactions', json: () => ({ tx: tx().tx, sig: tx({ nonce: 3 }).sig }), status: 401, code: 'bad_signature' },
  {
    name: 'nonce ahead of the next one',
    method: 'POST',
    path: '/v1/transactions',
    json: () => tx({ nonce: 5 }),
    status: 409,
    code: 'nonce_mismatch',
    check: (r) => expect(r.body.expected).toBe(2),
  },
  {
    name: 'nonce already used (different tx)',
    method: 'POST',
    path: '/v1/transactions',
    json: () => tx({ nonce: 0, args: { to: bob.key, amount: '5' } }),
    status: 409,
    code: 'nonce_mismatch',
    check: (r) => expect(r.body.expected).toBe(2),
  },
];

const batchCases: Case[] = [
  { name: 'malformed JSON', method: 'POST', path: '/v1/transactions/batch', raw: '{"txs":[', headers: JSON_CT, status: 400, code: 'malformed_json' },
  { name: 'text/plain body', method: 'POST', path: '/v1/transactions/batch', raw: '{"txs":[]}', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
  { name: 'no content-type', method: 'POST', path: '/v1/transactions/batch', raw: '{"txs":[]}', headers: { 'content-type': '' }, status: 415, code: 'unsupported_media_type' },
  { name: 'no txs field', method: 'POST', path: '/v1/transactions/batch', json: {}, status: 400, code: 'validation_failed' },
  { name: 'empty txs', method: 'POST', path: '/v1/transactions/batch', json: { txs: [] }, status: 400, code: 'validation_failed' },
  { name: 'txs not an array', method: 'POST', path: '/v1/transactions/batch', json: { txs: {} }, status: 400, code: 'validation_failed' },
  { name: 'extra field', method: 'POST', path: '/v1/transactions/batch', json: () => ({ txs: [tx()], extra: true }), status: 400, code: 'validation_failed' },
  { name: 'more than 1000 txs', method: 'POST', path: '/v1/transactions/batch', json: () => ({ txs: Array.from({ length: 1001 }, () => tx()) }), status: 400, code: 'validation_failed' },
  {
    name: 'body over 4 MiB',
    method: 'POST',
    path: '/v1/transactions/batch',
    raw: () => JSON.stringify({ txs: [tx()], pad: 'z'.repeat(4 * 1024 * 1024) }),
    headers: JSON_CT,
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: '2 million nested arrays (4 MiB) are refused while streaming',
    method: 'POST',
    path: '/v1/transactions/batch',
    raw: () => '['.repeat(2 * 1024 * 1024) + ']'.repeat(2 * 1024 * 1024 - 1024),
    headers: JSON_CT,
    status: 400,
    code: 'too_deeply_nested',
  },
  {
    name: 'a million empty objects (4 MiB) are refused while streaming',
    method: 'POST',
    path: '/v1/transactions/batch',
    raw: () => `{"txs":[${'{},'.repeat(1_000_000)}{}]}`,
    headers: JSON_CT,
    status: 400,
    code: 'too_many_values',
  },
  {
    name: 'duplicate key inside a batch item',
    method: 'POST',
    path: '/v1/transactions/batch',
    raw: () => JSON.stringify({ txs: [tx()] }).replace('"nonce":2', '"nonce":2,"nonce":3'),
    headers: JSON_CT,
    status: 400,
    code: 'duplicate_key',
    check: (r) => expect(r.body.at).toBe('$.txs[0].tx.nonce'),
  },
];

const subtreeCases: Case[] = [
  { name: 'malformed JSON', method: 'POST', path: '/v1/subtrees', raw: '{"subtree"', headers: JSON_CT, status: 400, code: 'malformed_json' },
  { name: 'text/plain body', method: 'POST', path: '/v1/subtrees', raw: '{}', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
  { name: 'missing sigs', method: 'POST', path: '/v1/subtrees', json: request((b) => delete b.sigs), status: 400, code: 'invalid_subtree' },
  { name: 'extra field', method: 'POST', path: '/v1/subtrees', json: request((b) => (b.subtree.extra = 1)), status: 400, code: 'invalid_subtree' },
  { name: 'v as a string', method: 'POST', path: '/v1/subtrees', json: request((b) => (b.subtree.v = '1')), status: 400, code: 'invalid_subtree' },
  { name: 'uppercase parent hex', method: 'POST', path: '/v1/subtrees', json: request((b) => (b.subtree.parent = 'AB'.repeat(32))), status: 400, code: 'invalid_subtree' },
  { name: 'bad name', method: 'POST', path: '/v1/subtrees', json: request((b) => (b.subtree.name = 'Bad Name')), status: 400, code: 'invalid_name' },
  { name: 'unknown program', method: 'POST', path: '/v1/subtrees', json: request((b) => (b.subtree.program = 'casino')), status: 400, code: 'unknown_program' },
  { name: 'bad mode', method: 'POST', path: '/v1/subtrees', json: request((b) => (b.subtree.mode = { type: 'anarchy' })), status: 400, code: 'invalid_mode' },
  {
    name: 'oversized body (> 64 KiB)',
    method: 'POST',
    path: '/v1/subtrees',
    json: request((b) => (b.subtree.genesis = [{ key: 'memo', value: 'm'.repeat(70_000) }])),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'wrong network',
    method: 'POST',
    path: '/v1/subtrees',
    json: () => subtreeRequest({ ...tokenSpec(), name: 'coin2', network: 'other-net' }).body,
    headers: adminHeader(),
    status: 400,
    code: 'network_mismatch',
  },
  {
    name: 'owner signature does not verify (changed after signing)',
    method: 'POST',
    path: '/v1/subtrees',
    json: request((b) => (b.subtree.name = 'renamed')),
    headers: adminHeader(),
    status: 401,
    code: 'bad_signature',
  },
  {
    name: 'signature by a key no rule asks for',
    method: 'POST',
    path: '/v1/subtrees',
    json: () => subtreeRequest({ ...tokenSpec(), name: 'coin3' }, [mallory]).body,
    headers: adminHeader(),
    status: 401,
    code: 'bad_signature',
  },
  {
    name: 'node must co-sign but caller has no admin token',
    method: 'POST',
    path: '/v1/subtrees',
    json: () => subtreeRequest({ ...tokenSpec(), name: 'coin4' }).body,
    status: 403,
    code: 'forbidden',
  },
  {
    name: 'wrong admin token does not count',
    method: 'POST',
    path: '/v1/subtrees',
    json: () => subtreeRequest({ ...tokenSpec(), name: 'coin5' }).body,
    headers: adminHeader('wrong-token-0123456789'),
    status: 403,
    code: 'forbidden',
  },
  {
    name: 'same id, different contents',
    method: 'POST',
    path: '/v1/subtrees',
    json: () => subtreeRequest({ ...tokenSpec(), config: { symbol: 'XX', decimals: 0, minter: alice.key } }).body,
    headers: adminHeader(),
    status: 409,
    code: 'subtree_exists',
  },
];

const tickCases: Case[] = [
  { name: 'no admin token', method: 'POST', path: '/v1/leader/tick', status: 401, code: 'unauthorized' },
  { name: 'wrong admin token', method: 'POST', path: '/v1/leader/tick', headers: adminHeader('nope-nope-nope-nope'), status: 401, code: 'unauthorized' },
  { name: 'not a bearer token', method: 'POST', path: '/v1/leader/tick', headers: { authorization: 'Basic abc' }, status: 401, code: 'unauthorized' },
  { name: 'text/plain body', method: 'POST', path: '/v1/leader/tick', raw: 'go', headers: { 'content-type': 'text/plain', ...adminHeader() }, status: 415, code: 'unsupported_media_type' },
];

const sigOver = (p: { secret: Uint8Array }, hash: () => string) => () => ({
  signer: p === carol ? carol.key : mallory.key,
  sig: toHex(signDigest('ed25519', p.secret, fromHex(hash()))),
});
const sigPath = (height = 1, id = () => ext) => () => `/v1/subtrees/${id()}/rounds/${height}/signatures`;

const signatureCases: Case[] = [
  { name: 'malformed JSON', method: 'POST', path: sigPath(), raw: '{"signer"', headers: JSON_CT, status: 400, code: 'malformed_json' },
  { name: 'text/plain body', method: 'POST', path: sigPath(), raw: '{}', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
  { name: 'missing sig', method: 'POST', path: sigPath(), json: () => ({ signer: carol.key }), status: 400, code: 'invalid_request' },
  { name: 'extra field', method: 'POST', path: sigPath(), json: () => ({ ...sigOver(carol, () => proposalHash)(), height: 1 }), status: 400, code: 'invalid_request' },
  { name: 'signer not a key', method: 'POST', path: sigPath(), json: () => ({ ...sigOver(carol, () => proposalHash)(), signer: 'carol' }), status: 400, code: 'invalid_key' },
  {
    name: 'uppercase sig hex',
    method: 'POST',
    path: sigPath(),
    json: () => {
      const b = sigOver(carol, () => proposalHash)();
      return { ...b, sig: b.sig.toUpperCase() };
    },
    status: 400,
    code: 'validation_failed',
  },
  { name: 'sig "zz"', method: 'POST', path: sigPath(), json: () => ({ signer: carol.key, sig: 'zz' }), status: 400, code: 'validation_failed' },
  {
    name: 'signer the mode does not name',
    method: 'POST',
    path: sigPath(),
    json: sigOver(mallory, () => proposalHash),
    status: 403,
    code: 'not_a_signer',
  },
  { name: 'signature over another hash', method: 'POST', path: sigPath(), json: sigOver(carol, () => UNKNOWN), status: 401, code: 'bad_signature' },
  { name: 'no proposal at that height', method: 'POST', path: sigPath(7), json: sigOver(carol, () => proposalHash), status: 404, code: 'not_found' },
  { name: 'unknown subtree', method: 'POST', path: sigPath(1, () => UNKNOWN), json: sigOver(carol, () => proposalHash), status: 404, code: 'unknown_subtree' },
  { name: 'uppercase subtree id', method: 'POST', path: sigPath(1, () => ext.toUpperCase()), json: sigOver(carol, () => proposalHash), status: 400, code: 'validation_failed' },
  { name: 'negative height', method: 'POST', path: sigPath(-1), json: sigOver(carol, () => proposalHash), status: 400, code: 'validation_failed' },
  {
    name: 'oversized body (> 64 KiB)',
    method: 'POST',
    path: sigPath(),
    json: () => ({ ...sigOver(carol, () => proposalHash)(), pad: 'p'.repeat(70_000) }),
    status: 413,
    code: 'payload_too_large',
  },
  { name: 'proposals of unknown subtree', method: 'GET', path: `/v1/subtrees/${UNKNOWN}/proposals`, status: 404, code: 'unknown_subtree' },
  { name: 'proposals status=done', method: 'GET', path: () => `/v1/subtrees/${ext}/proposals?status=done`, status: 400, code: 'validation_failed' },
];

const expPath = (height = 1, id = () => ext) => () => `/v1/subtrees/${id()}/rounds/${height}/expiries`;
const expVote = (over: Record<string, unknown> = {}) => () => ({
  signer: carol.key,
  round: proposalHash,
  sig: toHex(signDigest('ed25519', carol.secret, digest('expire', { v: 1, network: s.network, subtree: ext, height: 1, round: proposalHash }))),
  ...over,
});
const expiryCases: Case[] = [
  { name: 'malformed JSON', method: 'POST', path: expPath(), raw: '{"signer"', headers: JSON_CT, status: 400, code: 'malformed_json' },
  { name: 'text/plain body', method: 'POST', path: expPath(), raw: '{}', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
  { name: 'missing round', method: 'POST', path: expPath(), json: () => ({ signer: carol.key, sig: 'ab'.repeat(64) }), status: 400, code: 'invalid_request' },
  { name: 'extra field', method: 'POST', path: expPath(), json: expVote({ height: 1 }), status: 400, code: 'invalid_request' },
  { name: 'signer not a key', method: 'POST', path: expPath(), json: expVote({ signer: 'carol' }), status: 400, code: 'invalid_key' },
  { name: 'sig "zz"', method: 'POST', path: expPath(), json: expVote({ sig: 'zz' }), status: 400, code: 'validation_failed' },
  { name: 'round uppercase', method: 'POST', path: expPath(), json: expVote({ round: 'AB'.repeat(32) }), status: 400, code: 'validation_failed' },
  { name: 'a PoA proposal does not expire', method: 'POST', path: expPath(), json: expVote(), status: 409, code: 'conflict' },
  { name: 'unknown subtree', method: 'POST', path: expPath(1, () => UNKNOWN), json: expVote(), status: 404, code: 'unknown_subtree' },
  { name: 'negative height', method: 'POST', path: expPath(-1), json: expVote(), status: 400, code: 'validation_failed' },
  { name: 'oversized body (> 64 KiB)', method: 'POST', path: expPath(), json: expVote({ pad: 'p'.repeat(70_000) }), status: 413, code: 'payload_too_large' },
];

const paramCases: Case[] = [
  { name: 'subtree id uppercase', method: 'GET', path: () => `/v1/subtrees/${coin.toUpperCase()}`, status: 400, code: 'validation_failed' },
  { name: 'subtree id short', method: 'GET', path: '/v1/subtrees/abc', status: 400, code: 'validation_failed' },
  { name: 'subtree id 0x-prefixed', method: 'GET', path: () => `/v1/subtrees/0x${coin.slice(2)}`, status: 400, code: 'validation_failed' },
  { name: 'unknown subtree', method: 'GET', path: `/v1/subtrees/${UNKNOWN}`, status: 404, code: 'unknown_subtree' },
  { name: 'tx id uppercase', method: 'GET', path: `/v1/transactions/${'AB'.repeat(32)}`, status: 400, code: 'validation_failed' },
  { name: 'unknown tx', method: 'GET', path: `/v1/transactions/${UNKNOWN}`, status: 404, code: 'not_found' },
  { name: 'negative height', method: 'GET', path: () => `/v1/subtrees/${coin}/rounds/-1`, status: 400, code: 'validation_failed' },
  { name: 'fractional height', method: 'GET', path: () => `/v1/subtrees/${coin}/rounds/1.5`, status: 400, code: 'validation_failed' },
  { name: 'height above 2^53', method: 'GET', path: () => `/v1/subtrees/${coin}/rounds/9007199254740993`, status: 400, code: 'validation_failed' },
  { name: 'height of 17 digits', method: 'GET', path: () => `/v1/subtrees/${coin}/rounds/12345678901234567`, status: 400, code: 'validation_failed' },
  { name: 'height not reached', method: 'GET', path: () => `/v1/subtrees/${coin}/rounds/99`, status: 404, code: 'not_found' },
  { name: 'round of unknown subtree', method: 'GET', path: `/v1/subtrees/${UNKNOWN}/rounds/0`, status: 404, code: 'unknown_subtree' },
  { name: 'rounds of unknown subtree', method: 'GET', path: `/v1/subtrees/${UNKNOWN}/rounds`, status: 404, code: 'unknown_subtree' },
  { name: 'rounds order=up', method: 'GET', path: () => `/v1/subtrees/${coin}/rounds?order=up`, status: 400, code: 'validation_failed' },
  { name: 'rounds cursor not a number', method: 'GET', path: () => `/v1/subtrees/${coin}/rounds?cursor=x`, status: 400, code: 'validation_failed' },
  { name: 'state of unknown subtree', method: 'GET', path: `/v1/subtrees/${UNKNOWN}/state/supply`, status: 404, code: 'unknown_subtree' },
  { name: 'state of bad subtree id', method: 'GET', path: '/v1/subtrees/XYZ/state/supply', status: 400, code: 'validation_failed' },
  { name: 'state height not a number', method: 'GET', path: () => `/v1/subtrees/${coin}/state/supply?height=abc`, status: 400, code: 'validation_failed' },
  { name: 'state height not final yet', method: 'GET', path: () => `/v1/subtrees/${coin}/state/supply?height=99`, status: 404, code: 'not_found' },
  { name: 'state at height of unknown subtree', method: 'GET', path: `/v1/subtrees/${UNKNOWN}/state/supply?height=0`, status: 404, code: 'unknown_subtree' },
  { name: 'state format=xml', method: 'GET', path: () => `/v1/subtrees/${coin}/state/supply?format=xml`, status: 400, code: 'validation_failed' },
  { name: 'state unknown query parameter', method: 'GET', path: () => `/v1/subtrees/${coin}/state/supply?foo=1`, status: 400, code: 'validation_failed' },
  { name: 'ics23 for an absent key', method: 'GET', path: () => `/v1/subtrees/${coin}/state/nothing-here?format=ics23`, status: 400, code: 'ics23_exclusion_unsupported' },
  { name: 'state key too long', method: 'GET', path: () => `/v1/subtrees/${coin}/state/${'k'.repeat(2000)}`, status: 400, code: 'validation_failed' },
  { name: 'list limit 0', method: 'GET', path: '/v1/subtrees?limit=0', status: 400, code: 'validation_failed' },
  { name: 'list limit too big', method: 'GET', path: '/v1/subtrees?limit=100000', status: 400, code: 'validation_failed' },
  { name: 'list cursor not hex', method: 'GET', path: '/v1/subtrees?cursor=XYZ', status: 400, code: 'validation_failed' },
  { name: 'list parent uppercase', method: 'GET', path: `/v1/subtrees?parent=${'AB'.repeat(32)}`, status: 400, code: 'validation_failed' },
  { name: 'list unknown parameter', method: 'GET', path: '/v1/subtrees?sort=name', status: 400, code: 'validation_failed' },
  { name: 'unknown route', method: 'GET', path: '/v1/nope', status: 404, code: 'not_found' },
  { name: 'unknown method', method: 'DELETE', path: '/v1/info', status: 404, code: 'not_found' },
];

const groups: [string, Case[]][] = [
  ['POST /v1/transactions', transactionCases],
  ['POST /v1/transactions/batch', batchCases],
  ['POST /v1/subtrees', subtreeCases],
  ['POST /v1/leader/tick', tickCases],
  ['POST …/rounds/:height/signatures, GET …/proposals', signatureCases],
  ['POST …/rounds/:height/expiries', expiryCases],
  ['path and query parameters', paramCases],
];

for (const [group, cases] of groups) {
  describe(group, () => {
    for (const c of cases) {
      test(`${c.name} → ${c.status} ${c.code}, nothing changes`, async () => {
        const before = await snapshot();
        const path = typeof c.path === 'function' ? c.path() : c.path;
        const json = typeof c.json === 'function' ? (c.json as () => unknown)() : c.json;
        const raw = typeof c.raw === 'function' ? c.raw() : c.raw;
        const r = await call(s.url, c.method, path, {
          ...(json !== undefined || (c.json === null) ? { json } : {}),
          ...(raw !== undefined ? { raw } : {}),
          ...(c.headers ? { headers: c.headers } : {}),
        });
        expect(r.status).toBeLessThan(500);
        expect({ status: r.status, code: r.body?.code }).toEqual({ status: c.status, code: c.code });
        expect(r.type).toBe('application/problem+json');
        expect(r.body).toMatchObject({ type: `urn:dstp:problem:${c.code}`, status: c.status });
        expect(typeof r.body.title).toBe('string');
        expect(typeof r.body.detail).toBe('string');
        c.check?.(r);
        expect(await snapshot()).toBe(before);
      });
    }
  });
}

describe('bad input that is not an error of the whole request', () => {
  test('a batch of only bad items answers 200 with one problem per item and changes nothing', async () => {
    const before = await snapshot();
    const r = await call(s.url, 'POST', '/v1/transactions/batch', {
      json: { txs: [tx({ nonce: 9 }), tx({ network: 'other-net' }), { tx: 1 }, tx({ subtree: UNKNOWN, nonce: 0 })] },
    });
    expect(r.status).toBe(200);
    expect(r.body.items.map((i: { status: number; problem: { code: string } }) => [i.status, i.problem.code])).toEqual([
      [409, 'nonce_mismatch'],
      [400, 'network_mismatch'],
      [400, 'invalid_tx'],
      [404, 'unknown_subtree'],
    ]);
    expect(r.body.items[0].problem.expected).toBe(2);
    expect(await snapshot()).toBe(before);
  });

  test('validation problems list each failing field', async () => {
    const r = await call(s.url, 'GET', `/v1/subtrees/${coin}/rounds?limit=0&order=up&extra=1`);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('validation_failed');
    const paths = r.body.errors.map((e: { in: string; path: string }) => `${e.in}:${e.path}`).sort();
    expect(paths).toEqual(['query:extra', 'query:limit', 'query:order']);
  });

  test('a streamed (chunked) body over 64 KiB is cut off with 413', async () => {
    const before = await snapshot();
    const chunk = new TextEncoder().encode('{"pad":"' + 'q'.repeat(32 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (sent++ < 4) ctrl.enqueue(chunk);
        else ctrl.close();
      },
    });
    const res = await fetch(`${s.url}/v1/transactions`, { method: 'POST', headers: JSON_CT, body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(((await res.json()) as { code: string }).code).toBe('payload_too_large');
    expect(await snapshot()).toBe(before);
  });

  test('a node started without an admin token refuses management calls', async () => {
    const bare = await startServer({ adminToken: null });
    try {
      const r = await call(bare.url, 'POST', '/v1/leader/tick', { headers: adminHeader() });
      expect(r.status).toBe(401);
      expect(r.type).toBe('application/problem+json');
      expect(r.body.code).toBe('unauthorized');
    } finally {
      await bare.close();
    }
  });
});
