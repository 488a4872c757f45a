import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBalances, UsageError } from '../../src/cli/args.ts';
import { main } from '../../src/cli/main.ts';
import { keyFromSecret } from '../../src/client/keys.ts';
import { checkCreationSignatures } from '../../src/core/consensus/signing-rules.ts';
import { parseSubtreeRequest, subtreeId } from '../../src/core/subtree-request.ts';
import { NATIVE_PROGRAMS } from '../../src/core/programs/native.ts';
import { toHex } from '../../src/core/hex.ts';
import { parseTxEnvelope, txIdHex, verifyTxSignature } from '../../src/core/tx.ts';

/** Runs the CLI in-process with captured output; nothing here talks to a node. */
async function run(argv: string[], env: Record<string, string> = {}) {
  const out: unknown[] = [];
  const err: string[] = [];
  let text = '';
  const code = await main(argv, {
    out: (v) => out.push(JSON.parse(JSON.stringify(v))),
    note: (l) => err.push(l),
    stdout: (t) => (text += t),
    stderr: (l) => err.push(l),
    env,
  });
  return { code, out, err, text };
}

const dir = mkdtempSync(join(tmpdir(), 'dstp-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dstp keygen', () => {
  test('writes a 0600 key file whose public key derives from its secret, and never overwrites silently', async () => {
    const file = join(dir, 'owner.json');
    const r = await run(['keygen', '--scheme', 'secp256k1', '--out', file]);
    expect(r.code).toBe(0);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.scheme).toBe('secp256k1');
    expect(keyFromSecret('secp256k1', saved.secret).publicKey).toBe(saved.publicKey);
    expect(r.out).toEqual([{ scheme: 'secp256k1', publicKey: saved.publicKey, file }]); // the secret stays in the file
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const again = await run(['keygen', '--out', file]);
    expect(again.code).toBe(2);
    expect(again.err[0]).toContain('--force');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(saved);
    expect((await run(['keygen', '--out', file, '--force'])).code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8')).secret).not.toBe(saved.secret);
  });

  test('usage mistakes exit 2 with one line on stderr', async () => {
    for (const argv of [['keygen', '--scheme', 'rsa'], ['keygen', '--bogus'], ['frobnicate'], ['send', '--subtree', 'ab'], []]) {
      const r = await run(argv);
      expect(r.code).toBe(2);
      expect(r.out).toEqual([]);
      expect(r.err.length).toBe(1);
    }
    const missing = await run(['send', '--subtree', 'ab']);
    expect(missing.err[0]).toBe('dstp send: --key is required (see dstp --help)');
  });

  test('help goes to stdout with exit 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['keygen', 'create-subtree', 'send', 'get', 'verify']) expect(r.text).toContain(c);
    expect((await run(['verify', '--help'])).text).toContain('dstp verify --subtree ID --key KEY');
  });
});

describe('dstp create-subtree --dry-run', () => {
  test('builds a request the core accepts: owner and key-file authority sign; balances by key file or key', async () => {
    const owner = join(dir, 'o.json');
    const auth = join(dir, 'a.json');
    const alice = join(dir, 'alice.json');
    for (const f of [owner, auth, alice]) expect((await run(['keygen', '--out', f, '--force'])).code).toBe(0);
    const bob = (await run(['keygen'])).out[0] as { publicKey: string };
    const read = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as { publicKey: string };
    const r = await run([
      'create-subtree', '--key', owner, '--name', 'my-app', '--program', 'token', '--network', 'dstp-test',
      '--authority', auth, '--balances', `${alice}=10,${bob.publicKey}=1`, '--dry-run',
    ]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const { id, body } = r.out[0] as { id: string; body: unknown };
    const req = parseSubtreeRequest(body, NATIVE_PROGRAMS);
    expect(id).toBe(toHex(subtreeId(req.subtree)));
    expect(req.subtree.mode).toEqual({ type: 'poa', authority: read(auth).publicKey });
    expect(req.subtree.config).toEqual({ symbol: 'MY-APP', decimals: 0, minter: read(owner).publicKey });
    expect(req.subtree.genesis).toEqual([
      { key: `balance/${read(alice).publicKey}`, value: '10' },
      { key: `balance/${bob.publicKey}`, value: '1' },
      { key: 'supply', value: '11' },
    ]);
    expect(checkCreationSignatures(req.subtree, req.sigs).ok).toBe(true);
  });

  test('a balance for something that is neither a key nor a key file is a usage error', async () => {
    const owner = join(dir, 'o2.json');
    await run(['keygen', '--out', owner]);
    const auth = (await run(['keygen'])).out[0] as { publicKey: string };
    const r = await run(['create-subtree', '--key', owner, '--name', 'x', '--program', 'token', '--network', 'n', '--authority', auth.publicKey, '--balances', 'alice=10', '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.err[0]).toContain('"alice" is neither a public key');
  });

  test('a tampered key file is refused before anything is signed', async () => {
    const file = join(dir, 'bad.json');
    const other = (await run(['keygen'])).out[0] as { publicKey: string };
    const key = (await run(['keygen'])).out[0] as object;
    writeFileSync(file, JSON.stringify({ ...key, publicKey: other.publicKey }));
    const r = await run(['create-subtree', '--key', file, '--name', 'x', '--program', 'kv', '--network', 'n', '--authority', other.publicKey, '--dry-run']);
    expect(r.code).toBe(1);
    expect(r.err[0]).toContain('invalid_key');
  });
});

describe('parseBalances', () => {
  test('splits at the last "=" so keys with ":" work; malformed entries are usage errors', () => {
    expect(parseBalances('ed25519:ab=10, b.json=1,')).toEqual([
      ['ed25519:ab', '10'],
      ['b.json', '1'],
    ]);
    expect(() => parseBalances('alice')).toThrow(UsageError);
    expect(() => parseBalances('alice=')).toThrow(UsageError);
  });
});

describe('unreachable node', () => {
  test('exits 1 naming the URL', async () => {
    const r = await run(['info', '--node', 'http://127.0.0.1:9']);
    expect(r.code).toBe(1);
    expect(r.err[0]).toContain('cannot reach http://127.0.0.1:9/v1/info');
  });
});

describe('dstp sign', () => {
  test('prints exactly the {tx, sig} body the node accepts, offline with --network', async () => {
    const file = join(dir, 'signer.json');
    await run(['keygen', '--out', file]);
    const subtree = 'ab'.repeat(32);
    const r = await run(['sign', '--key', file, '--subtree', subtree, '--call', 'set', '--args', '{"key":"k","value":1}', '--nonce', '3', '--network', 'dstp-local']);
    expect(r.code).toBe(0);
    const env = parseTxEnvelope(r.out[0]);
    expect(Object.keys(r.out[0] as object).sort()).toEqual(['sig', 'tx']);
    expect(env.tx).toMatchObject({ network: 'dstp-local', subtree, nonce: 3, call: 'set', args: { key: 'k', value: 1 } });
    expect(verifyTxSignature(env)).toBe(true);
    expect(r.err).toContain(`id ${txIdHex(env.tx)}`);
  });

  test('without --nonce it is a usage error (exit 2) and prints nothing', async () => {
    const file = join(dir, 'signer.json');
    const r = await run(['sign', '--key', file, '--subtree', 'ab'.repeat(32), '--call', 'set', '--network', 'n']);
    expect(r.code).toBe(2);
    expect(r.out).toEqual([]);
  });
});
