import { DstpClient, type FetchLike } from '../client/http.ts';
import { generateKey, isScheme, type KeyPair } from '../client/keys.ts';
import { buildSubtreeRequest, signSubtreeRequest, signTransaction, subtreeIdHex, tokenGenesis } from '../client/sign.ts';
import { fetchVerifiedState, verifyAcceptance, VerificationError, type LinkCheck } from '../client/verify.ts';
import { fetchChain, verifyChainResponse } from '../client/verify-chain.ts';
import type { Mode } from '../core/consensus/mode.ts';
import { readFileSync } from 'node:fs';
import type { JsonValue } from '../core/jcs.ts';
import { programId as programIdOf } from '../core/program-id.ts';
import type { ProgramRegistry } from '../core/programs/registry.ts';
import type { GenesisEntry } from '../core/subtree-request.ts';
import { intOption, jsonOption, parseBalances, parseOptions, required, str, UsageError, type Values } from './args.ts';
import { readKeyFile, resolvePublicKey, writeKeyFile } from './key-file.ts';
import { follow, follows } from './follow-commands.ts';

export interface Io {
  /** One JSON document per command. */
  out(value: unknown): void;
  /** Human notes (progress, warnings); never parsed. */
  note(line: string): void;
  env: Record<string, string | undefined>;
  fetch?: FetchLike;
}

export interface Command {
  summary: string;
  usage: string;
  options: Parameters<typeof parseOptions>[1];
  /** The name of the one positional argument it takes, if any. */
  positional?: string;
  run(values: Values, io: Io): Promise<number>;
}

export const DEFAULT_NODE = 'http://127.0.0.1:8787';

function clientOf(values: Values, io: Io): DstpClient {
  const adminToken = str(values, 'admin-token') ?? io.env.DSTP_ADMIN_TOKEN;
  return new DstpClient({
    baseUrl: str(values, 'node') ?? io.env.DSTP_NODE_URL ?? DEFAULT_NODE,
    ...(adminToken ? { adminToken } : {}),
    ...(io.fetch ? { fetch: io.fetch } : {}),
  });
}

const keygen: Command = {
  summary: 'create a key pair (JSON {scheme, secret, publicKey})',
  usage: 'dstp keygen [--scheme ed25519|secp256k1|bip340] [--out key.json] [--force]',
  options: { scheme: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' } },
  async run(values, io) {
    const scheme = str(values, 'scheme') ?? 'ed25519';
    if (!isScheme(scheme)) throw new UsageError(`--scheme must be ed25519, secp256k1 or bip340, not "${scheme}"`);
    const key = generateKey(scheme);
    const out = str(values, 'out');
    if (out === undefined) {
      io.out(key);
    } else {
      writeKeyFile(out, key, { force: values.force === true });
      io.out({ scheme: key.scheme, publicKey: key.publicKey, file: out });
    }
    return 0;
  },
};

const info: Command = {
  summary: "show the node's network id, public key and version",
  usage: 'dstp info [--node URL]',
  options: {},
  async run(values, io) {
    io.out(await clientOf(values, io).info());
    return 0;
  },
};

const USER_PROGRAM = /^js:[0-9a-f]{64}$/;

/**
 * For a user program (`js:<id>`, SPEC §7.1): the registry that runs it, fetched from the node
 * and checked against its id, so the config and genesis are judged by the program itself before
 * anything is signed. Native programs need none (the node judges them).
 */
async function userProgramRegistry(program: string, client: DstpClient): Promise<ProgramRegistry | null> {
  if (!USER_PROGRAM.test(program)) return null;
  const { programsFromNode } = await import('../platform/sandbox/node-programs.ts');
  const { sha256 } = await import('../core/hash.ts');
  const programs = programsFromNode(client, { hash: sha256 });
  await programs.load(program);
  if (programs.get(program) === undefined) {
    throw new UsageError(`the node has no program ${program.slice(3)} that this dstp can run (push it first with \`dstp program push FILE\`; or it needs another engine)`);
  }
  return programs;
}

/** Program configs good enough to start with; `--config` replaces them. */
function defaultConfig(program: string, owner: string, name: string): JsonValue {
  // A user program's parseConfig decides what its config is; `{}` is the plainest start.
  if (USER_PROGRAM.test(program)) return {};
  if (program === 'token') return { symbol: name.toUpperCase().replace(/[^A-Z0-9._-]/g, '').slice(0, 32) || 'TOKEN', decimals: 0, minter: owner };
  if (program === 'kv') return { writers: 'any' };
  throw new UsageError(`--config is required for program "${program}"`);
}

function genesisOf(values: Values): GenesisEntry[] {
  const raw = jsonOption(values, 'genesis');
  const balances = str(values, 'balances');
  if (raw !== undefined && balances !== undefined) throw new UsageError('give --genesis or --balances, not both');
  if (balances !== undefined) {
    const map: Record<string, string> = {};
    for (const [account, amount] of parseBalances(balances)) {
      const { publicKey } = resolvePublicKey(account, '--balances account');
      if (publicKey in map) throw new UsageError(`--balances names ${account} twice`);
      map[publicKey] = amount;
    }
    return tokenGenesis(map);
  }
  if (raw === undefined) return [];
  if (Array.isArray(raw)) return raw as GenesisEntry[];
  if (raw !== null && typeof raw === 'object') return Object.entries(raw).map(([key, value]) => ({ key, value: value as JsonValue }));
  throw new UsageError('--genesis must be [{"key","value"}, …] or {"key": value, …}');
}

/** A key named on the command line: `node` (the node's key, which it signs with itself), a public key or a key file. */
async function keyRef(ref: string, what: string, nodeKey: () => Promise<string>): Promise<{ publicKey: string; key?: KeyPair }> {
  return ref === 'node' ? { publicKey: await nodeKey() } : resolvePublicKey(ref, what);
}

function list(values: Values, name: string): string[] {
  return (str(values, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * The security mode from --mode and its options (SPEC §5). Key files named as authority, signers
 * or validators also sign the creation request, which must meet the mode's own rule.
 */
async function modeOf(values: Values, nodeKey: () => Promise<string>): Promise<{ mode: Mode; signers: KeyPair[] }> {
  const type = str(values, 'mode') ?? 'poa';
  const signers: KeyPair[] = [];
  const take = (r: { publicKey: string; key?: KeyPair }) => {
    if (r.key) signers.push(r.key);
    return r.publicKey;
  };
  const only = (allowed: string[]) => {
    for (const o of ['authority', 'signers', 'threshold', 'proposal-timeout-ms', 'validators', 'epoch-rounds', 'slash-bps']) {
      if (values[o] !== undefined && !allowed.includes(o)) throw new UsageError(`--${o} does not apply to --mode ${type}`);
    }
  };
  if (type === 'poa') {
    only(['authority']);
    return { mode: { type: 'poa', authority: take(await keyRef(str(values, 'authority') ?? 'node', '--authority', nodeKey)) }, signers };
  }
  if (type === 'multisig') {
    only(['signers', 'threshold', 'proposal-timeout-ms']);
    const keys: string[] = [];
    for (const r of list(values, 'signers')) keys.push(take(await keyRef(r, '--signers entry', nodeKey)));
    if (keys.length === 0) throw new UsageError('--mode multisig needs --signers KEY,KEY,… (node, public keys or key files)');
    const threshold = intOption(values, 'threshold', 1);
    if (threshold === undefined) throw new UsageError('--mode multisig needs --threshold N');
    const proposalTimeoutMs = intOption(values, 'proposal-timeout-ms', 1) ?? 30_000;
    return { mode: { type: 'multisig', signers: keys, threshold, proposalTimeoutMs }, signers };
  }
  if (type === 'pos') {
    only(['validators', 'epoch-rounds', 'slash-bps']);
    const validators: { key: string; stake: string }[] = [];
    for (const [ref, stake] of parseBalances(str(values, 'validators') ?? '', '--validators')) validators.push({ key: take(await keyRef(ref, '--validators entry', nodeKey)), stake });
    if (validators.length === 0) throw new UsageError('--mode pos needs --validators KEY=STAKE,… (node, public keys or key files)');
    const slashBps = intOption(values, 'slash-bps');
    return { mode: { type: 'pos', validators, epochRounds: intOption(values, 'epoch-rounds', 1) ?? 100, ...(slashBps !== undefined ? { slashBps } : {}) }, signers };
  }
  throw new UsageError(`--mode must be poa, multisig or pos, not "${type}"`);
}

const createSubtree: Command = {
  summary: 'sign and create a subtree (PoA with the node as authority by default; multisig; pos)',
  usage:
    'dstp create-subtree --key owner.json --name my-app --program token|kv|js:<id> [--config JSON]\n' +
    '       [--genesis JSON | --balances <account>=<amount>,…] [--sign other.json]… [--parent ID]\n' +
    '       [--mode poa] [--authority node|<public key>|<key file>]\n' +
    '       --mode multisig --signers KEY,KEY,… --threshold N [--proposal-timeout-ms MS (30000)]\n' +
    '       --mode pos --validators KEY=STAKE,… [--epoch-rounds N (100)] [--slash-bps BPS]\n' +
    '       (KEY: node, a public key or a key file; key files also sign the request)\n' +
    '       [--network ID] [--dry-run] [--node URL] [--admin-token T]',
  options: {
    key: { type: 'string' },
    name: { type: 'string' },
    parent: { type: 'string' },
    program: { type: 'string' },
    config: { type: 'string' },
    genesis: { type: 'string' },
    balances: { type: 'string' },
    mode: { type: 'string' },
    authority: { type: 'string' },
    signers: { type: 'string' },
    threshold: { type: 'string' },
    'proposal-timeout-ms': { type: 'string' },
    validators: { type: 'string' },
    'epoch-rounds': { type: 'string' },
    'slash-bps': { type: 'string' },
    sign: { type: 'string', multiple: true },
    network: { type: 'string' },
    'dry-run': { type: 'boolean' },
  },
  async run(values, io) {
    const owner = readKeyFile(required(values, 'key'));
    const name = required(values, 'name');
    const program = required(values, 'program');
    const client = clientOf(values, io);
    // The node is asked only for what the command line leaves open: its key ("node") and network.
    let info: ReturnType<DstpClient['info']> | undefined;
    const node = () => (info ??= client.info());
    const { mode, signers: modeSigners } = await modeOf(values, async () => (await node()).publicKey);
    const signers: KeyPair[] = [owner, ...modeSigners];
    for (const file of (values.sign as string[] | undefined) ?? []) signers.push(readKeyFile(file));
    const spec = buildSubtreeRequest({
      network: str(values, 'network') ?? (await node()).network,
      // A nested subtree (docs/protocol.md, "Nested subtrees"): same owner as the parent, or the admin token.
      ...(str(values, 'parent') !== undefined ? { parent: str(values, 'parent')! } : {}),
      owner: owner.publicKey,
      name,
      program,
      config: (jsonOption(values, 'config') as JsonValue | undefined) ?? defaultConfig(program, owner.publicKey, name),
      mode,
      genesis: genesisOf(values),
    }, await userProgramRegistry(program, client));
    const body = signSubtreeRequest(spec, signers);
    const id = subtreeIdHex(spec);
    if (values['dry-run'] === true) {
      io.out({ id, body });
      return 0;
    }
    const { request: _request, ...head } = await client.createSubtree(body);
    if (head.id !== id) throw new Error(`the node created subtree ${head.id}, but the signed request yields ${id}`);
    io.out(head);
    return 0;
  },
};

const sign: Command = {
  summary: 'sign a transaction offline and print exactly the body to POST ({tx, sig}); the id goes to stderr',
  usage:
    'dstp sign --key sender.json --subtree ID --call transfer --args \'{"to":"…","amount":"2"}\' --nonce N\n' +
    '       [--network ID (default: ask the node)] [--node URL]',
  options: {
    key: { type: 'string' },
    subtree: { type: 'string' },
    call: { type: 'string' },
    args: { type: 'string' },
    nonce: { type: 'string' },
    network: { type: 'string' },
  },
  async run(values, io) {
    const key = readKeyFile(required(values, 'key'));
    const args = jsonOption(values, 'args') ?? {};
    if (args === null || typeof args !== 'object' || Array.isArray(args)) throw new UsageError('--args must be a JSON object');
    const nonce = intOption(values, 'nonce');
    if (nonce === undefined) throw new UsageError('--nonce is required (read it from sys/nonce/<sender>, or use `dstp send`)');
    const network = str(values, 'network') ?? (await clientOf(values, io).info()).network;
    const signed = signTransaction({
      network,
      subtree: required(values, 'subtree'),
      key,
      nonce,
      call: required(values, 'call'),
      args: args as Record<string, JsonValue>,
    });
    io.note(`id ${signed.id}`);
    io.out(signed.envelope);
    return 0;
  },
};

const send: Command = {
  summary: 'sign and submit a transaction (--nonce N is used as given; without it the nonce is fetched and corrected)',
  usage:
    'dstp send --key sender.json --subtree ID --call transfer --args \'{"to":"…","amount":"2"}\'\n' +
    '       [--nonce N] [--network ID] [--wait] [--timeout MS] [--node URL]',
  options: {
    key: { type: 'string' },
    subtree: { type: 'string' },
    call: { type: 'string' },
    args: { type: 'string' },
    nonce: { type: 'string' },
    network: { type: 'string' },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
  },
  async run(values, io) {
    const key = readKeyFile(required(values, 'key'));
    const subtree = required(values, 'subtree');
    const call = required(values, 'call');
    const args = jsonOption(values, 'args') ?? {};
    if (args === null || typeof args !== 'object' || Array.isArray(args)) throw new UsageError('--args must be a JSON object');
    const nonce = intOption(values, 'nonce');
    const network = str(values, 'network');
    const timeoutMs = intOption(values, 'timeout', 1);
    const client = clientOf(values, io);
    const node = await client.info();
    const sent = await client.send({
      subtree,
      key,
      call,
      args: args as Record<string, JsonValue>,
      ...(nonce !== undefined ? { nonce } : {}),
      ...(network !== undefined ? { network } : {}),
    });
    // The acceptance is the user's receipt against the node: check it before relying on it.
    verifyAcceptance(sent.accept, sent.sig, node.publicKey, { tx: sent.id, subtree, network: sent.envelope.tx.network });
    const result: Record<string, unknown> = {
      id: sent.id,
      status: sent.status === 202 ? 'accepted' : 'known',
      nonce: sent.nonce,
      accept: sent.accept,
      sig: sent.sig,
      acceptanceVerified: true,
    };
    if (values.wait === true) {
      const tx = await client.waitForExecution(sent.id, timeoutMs !== undefined ? { timeoutMs } : {});
      // The outcome first: a transaction that failed in execution must not read as "accepted".
      const { id, status: submitted, ...rest } = result;
      io.out({
        id,
        status: tx.status,
        ...(tx.status === 'failed' ? { code: tx.receipt?.code ?? null } : {}),
        ...(tx.height !== undefined ? { height: tx.height } : {}),
        submitted,
        ...rest,
        execution: tx,
      });
      if (tx.status === 'failed') {
        io.note(`transaction ${sent.id} failed in execution: ${tx.receipt?.code ?? 'unknown code'}`);
        return 1;
      }
      return 0;
    }
    io.out(result);
    return 0;
  },
};

const tx: Command = {
  summary: "show a transaction's status (pending / executed / failed)",
  usage: 'dstp tx --id TXID [--wait] [--timeout MS] [--node URL]',
  options: { id: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' } },
  async run(values, io) {
    const id = required(values, 'id');
    const client = clientOf(values, io);
    const timeoutMs = intOption(values, 'timeout', 1);
    const t = values.wait === true ? await client.waitForExecution(id, timeoutMs !== undefined ? { timeoutMs } : {}) : await client.getTransaction(id);
    io.out(t);
    return 0;
  },
};

const get: Command = {
  summary: 'read a state value (optionally verified end to end)',
  usage: 'dstp get --subtree ID --key KEY [--height N] [--verify] [--full] [--node URL]',
  options: { subtree: { type: 'string' }, key: { type: 'string' }, height: { type: 'string' }, verify: { type: 'boolean' }, full: { type: 'boolean' } },
  async run(values, io) {
    const subtree = required(values, 'subtree');
    const key = required(values, 'key');
    const height = intOption(values, 'height');
    const client = clientOf(values, io);
    if (values.verify === true) {
      const { state, verified } = await fetchVerifiedState(client, subtree, key, height !== undefined ? { height } : {});
      io.out({
        ...(values.full === true ? state : brief(state)),
        verified: { roundHash: verified.roundHash, signers: verified.signers, links: verified.links },
      });
      return 0;
    }
    const state = await client.getState(subtree, key, height !== undefined ? { height } : {});
    io.out(values.full === true ? state : brief(state));
    return 0;
  },
};

function brief(s: { key: string; exists: boolean; value?: JsonValue; height: number; root: string }) {
  return { key: s.key, exists: s.exists, ...(s.exists ? { value: s.value } : {}), height: s.height, root: s.root };
}

function missingOrigin(): never {
  throw new UsageError('the node reports no checkpoint origin; pass --origin');
}

const verify: Command = {
  summary: 'verify a value without trusting the node: proof → round → signatures → subtree [→ global → checkpoint → log → note → ots]',
  usage:
    'dstp verify --subtree ID --key KEY [--height N] [--expect JSON] [--node URL]\n' +
    '       dstp verify --chain --subtree ID --key KEY [--seq N] [--size N] [--node-key ed25519:HEX] [--origin NAME]\n' +
    '                   [--require-ots] [--require-bitcoin] [--expect JSON] [--node URL]',
  options: {
    subtree: { type: 'string' },
    key: { type: 'string' },
    height: { type: 'string' },
    expect: { type: 'string' },
    chain: { type: 'boolean' },
    seq: { type: 'string' },
    size: { type: 'string' },
    'node-key': { type: 'string' },
    origin: { type: 'string' },
    'require-ots': { type: 'boolean' },
    'require-bitcoin': { type: 'boolean' },
  },
  async run(values, io) {
    const subtree = required(values, 'subtree');
    const key = required(values, 'key');
    const height = intOption(values, 'height');
    const expectedValue = jsonOption(values, 'expect') as JsonValue | undefined;
    const links: (LinkCheck & { ok: boolean })[] = [];
    try {
      if (values.chain === true) {
        if (height !== undefined) throw new UsageError('--height does not apply to --chain (the checkpoint decides the height; use --seq)');
        const client = clientOf(values, io);
        // The node key and origin are the trust anchors: pin them with --node-key/--origin, else they come from /v1/info.
        const pinnedKey = str(values, 'node-key');
        const pinnedOrigin = str(values, 'origin');
        const info = pinnedKey === undefined || pinnedOrigin === undefined ? await client.info() : undefined;
        const head = await client.getSubtree(subtree);
        const seq = intOption(values, 'seq');
        const size = intOption(values, 'size', 1);
        const response = await fetchChain(client.baseUrl, subtree, key, {
          ...(seq !== undefined ? { seq } : {}),
          ...(size !== undefined ? { size } : {}),
          ...(io.fetch ? { fetch: io.fetch } : {}),
        });
        const verified = await verifyChainResponse(response, {
          key,
          subtree,
          request: head.request,
          nodeKey: pinnedKey ?? info!.publicKey,
          origin: pinnedOrigin ?? info?.origin ?? missingOrigin(),
          requireOts: values['require-ots'] === true,
          requireBitcoin: values['require-bitcoin'] === true,
          ...(expectedValue !== undefined ? { expectedValue } : {}),
          onLink: (c) => links.push({ ...c, ok: true }),
        });
        // Say plainly how far the chain reaches: without an .ots it ends at the node-signed note.
        if (verified.ots !== 'bitcoin') {
          io.note(
            verified.ots === 'absent'
              ? 'ots: absent — no OpenTimestamps calendar has answered for this checkpoint yet; the chain ends at the node-signed note (--require-ots makes this a failure)'
              : 'ots: pending — calendars promised a Bitcoin attestation, none is in yet (--require-bitcoin makes this a failure)',
          );
        }
        io.out({
          ok: true,
          ots: verified.ots,
          subtree,
          key,
          exists: verified.exists,
          ...(verified.exists ? { value: verified.value } : {}),
          height: verified.height,
          root: verified.root,
          roundHash: verified.roundHash,
          checkpoint: verified.checkpoint.seq,
          logSize: verified.logSize,
          logRoot: verified.logRoot,
          attestations: verified.attestations,
          links,
        });
        return 0;
      }
      const { verified } = await fetchVerifiedState(clientOf(values, io), subtree, key, {
        ...(height !== undefined ? { height } : {}),
        ...(expectedValue !== undefined ? { expectedValue } : {}),
        onLink: (c) => links.push({ ...c, ok: true }),
      });
      io.out({
        ok: true,
        subtree,
        key,
        exists: verified.exists,
        ...(verified.exists ? { value: verified.value } : {}),
        height: verified.height,
        root: verified.root,
        roundHash: verified.roundHash,
        signers: verified.signers,
        links,
      });
      return 0;
    } catch (e) {
      if (!(e instanceof VerificationError)) throw e;
      const failed = { link: e.link, ok: false, error: e.message, expected: e.expected, got: e.got };
      io.out({ ok: false, subtree, key, links: [...links, failed] });
      throw e;
    }
  },
};

const cosign: Command = {
  summary: 'co-sign a multisig/pos subtree: follow it with an own replica, sign only rounds whose roots follow from the log',
  usage:
    'dstp cosign --key signer.json --subtree ID [--db file:./cosign-ID.db] [--interval MS] [--auto-resume] [--once] [--node URL]\n' +
    '       events go to stderr as one JSON object per line; runs until SIGINT/SIGTERM (or one step with --once)',
  options: { key: { type: 'string' }, subtree: { type: 'string' }, db: { type: 'string' }, interval: { type: 'string' }, 'auto-resume': { type: 'boolean' }, once: { type: 'boolean' } },
  async run(values, io) {
    const key = readKeyFile(required(values, 'key'));
    const subtree = required(values, 'subtree');
    const interval = intOption(values, 'interval', 10) ?? 200;
    const url = str(values, 'db') ?? `file:./cosign-${subtree.slice(0, 16)}-${key.publicKey.slice(-8)}.db`;
    // Before anything slow: a SIGTERM/SIGINT from here on stops the co-signer between steps.
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // Loaded on demand: only this command needs the database driver.
    const { openDatabase } = await import('../store/db.ts');
    const { Cosigner, ForkError } = await import('../cosigner/index.ts');
    const db = await openDatabase({ url });
    const counts = { signatures: 0, refusals: 0, expiryVotes: 0 };
    try {
      const cosigner = await Cosigner.open({
        client: clientOf(values, io),
        subtree,
        key,
        db,
        autoResume: values['auto-resume'] === true,
        onEvent: (e) => {
          if (e.type === 'signed') counts.signatures++;
          if (e.type === 'refused') counts.refusals++;
          if (e.type === 'expiry_voted') counts.expiryVotes++;
          io.note(JSON.stringify({ ...e, time: Date.now() }));
        },
      });
      try {
        if (values.once === true) {
          const r = await cosigner.step();
          io.out({ subtree, signer: cosigner.publicKey, ...r, root: cosigner.root, ...counts });
          return 0;
        }
        await cosigner.run({ intervalMs: interval, signal: controller.signal });
      } catch (e) {
        if (e instanceof ForkError) {
          io.out({ subtree, signer: cosigner.publicKey, height: cosigner.height, stopped: 'fork', error: e.message, mismatches: e.mismatches, ...counts });
          return 1;
        }
        throw e;
      }
      io.out({ subtree, signer: cosigner.publicKey, height: cosigner.height, root: cosigner.root, ...counts });
      return 0;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await db.close();
    }
  },
};

const resume: Command = {
  summary: 'sign the resume of a halted multisig subtree (the halt lifts once the threshold of signers did)',
  usage: 'dstp resume --key signer.json --subtree ID [--node URL]',
  options: { key: { type: 'string' }, subtree: { type: 'string' } },
  async run(values, io) {
    const key = readKeyFile(required(values, 'key'));
    const subtree = required(values, 'subtree');
    const { signResume } = await import('../cosigner/cosigner.ts');
    const r = await signResume(clientOf(values, io), subtree, key);
    if (!r) {
      io.out({ subtree, signed: false, reason: 'not halted, or this key signed the current halt already' });
      return 0;
    }
    io.out({ subtree, signed: true, status: r.view.status, halt: r.view.resume.halt, ...(r.view.resume.evidence ? { evidence: r.view.resume.evidence } : {}), signatures: r.view.signatures.length, threshold: r.view.threshold });
    return 0;
  },
};

function readSource(values: Values): string {
  const file = required(values, 'file');
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const programPush: Command = {
  summary: 'upload a user program (SPEC §7.1); prints {id, engine}; run subtrees with program "js:<id>"',
  usage: 'dstp program push FILE [--node URL] [--admin-token T]',
  options: {},
  positional: 'file',
  async run(values, io) {
    io.out(await clientOf(values, io).uploadProgram(readSource(values)));
    return 0;
  },
};

const programTest: Command = {
  summary: 'run a user program locally with the node\'s engine: reads, writes or failure code, gas',
  usage: 'dstp program test FILE --call NAME [--args JSON] [--state state.json] [--config JSON] [--sender KEY]',
  options: { call: { type: 'string' }, args: { type: 'string' }, state: { type: 'string' }, config: { type: 'string' }, sender: { type: 'string' } },
  positional: 'file',
  async run(values, io) {
    const source = readSource(values);
    const call = required(values, 'call');
    const args = (jsonOption(values, 'args') ?? {}) as Record<string, JsonValue>;
    if (args === null || typeof args !== 'object' || Array.isArray(args)) throw new UsageError('--args must be a JSON object');
    const stateFile = str(values, 'state');
    let state: Record<string, JsonValue> = {};
    if (stateFile !== undefined) {
      try {
        state = JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, JsonValue>;
      } catch (e) {
        throw new UsageError(`cannot read ${stateFile} as a JSON object of key -> value: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const { loadSandbox } = await import('../platform/sandbox/load.ts');
    const { SandboxedProgram } = await import('../platform/sandbox/sandboxed-program.ts');
    const { planReads, executeRound, loadedState } = await import('../core/execute.ts');
    // One call: no warm slots (they pay off from a program's second call).
    const sandbox = await loadSandbox({ warm: 0 });
    const program = new SandboxedProgram(programIdOf(sandbox.engine, source), source, sandbox);
    const config = program.parseConfig(jsonOption(values, 'config') ?? {});
    const sender = str(values, 'sender') ?? 'ed25519:' + '00'.repeat(32);
    // One transaction through the same executor the node runs, against the given state.
    const tx = { id: '00'.repeat(32), tx: { v: 1 as const, network: 'local', subtree: '00'.repeat(32), sender, nonce: Number(state[`sys/nonce/${sender}`] ?? 0), call, args } };
    const reads = planReads(program, config, [tx]);
    const out = executeRound({ program, config, txs: [tx], state: loadedState(new Map(reads.map((k) => [k, state[k]]))) });
    const receipt = out.receipts[0]!;
    const writes = [...out.writes].filter(([k]) => !k.startsWith('sys/')).map(([key, value]) => ({ key, value }));
    io.out({ program: program.name, engine: sandbox.engine, reads: reads.filter((k) => !k.startsWith('sys/')), status: receipt.status, ...('code' in receipt ? { code: receipt.code } : { writes }), gas: receipt.gas });
    return receipt.status === 'ok' ? 0 : 1;
  },
};

export const COMMANDS: Record<string, Command> = {
  'program push': programPush,
  'program test': programTest,
  keygen,
  info,
  'create-subtree': createSubtree,
  sign,
  send,
  tx,
  get,
  verify,
  cosign,
  resume,
  follow,
  follows,
};
