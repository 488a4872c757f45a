/**
 * Co-signer processes for the reliability tests: `bun src/cli/main.ts cosign …`, each with its own
 * libSQL replica file, whose one-line JSON events (stderr) are collected. Every wait is bounded.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signTransaction, type KeyPair } from '../../src/client/index.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { BUN, http, NETWORK, REPO_ROOT, waitFor } from './harness.ts';

export interface CosignProc {
  key: KeyPair;
  events: Record<string, unknown>[];
  /** What the process printed on stdout (its summary when it stops). */
  stdout(): string;
  alive(): boolean;
  /** SIGTERM (the co-signer stops between steps and prints its summary), SIGKILL after 5 s. */
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

const all = new Set<CosignProc>();

/** Writes `key` as a key file in `dir` (mode 0600, as `dstp keygen` does). */
export function keyFile(dir: string, name: string, key: KeyPair): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(key), { mode: 0o600 });
  return path;
}

export function spawnCosigner(o: { dir: string; name: string; key: KeyPair; node: string; subtree: string; intervalMs?: number; extra?: string[] }): CosignProc {
  const file = keyFile(o.dir, o.name, o.key);
  const args = [
    BUN,
    'src/cli/main.ts',
    'cosign',
    '--key',
    file,
    '--node',
    o.node,
    '--subtree',
    o.subtree,
    '--db',
    `file:${join(o.dir, `${o.name}.db`)}`,
    '--interval',
    String(o.intervalMs ?? 50),
    ...(o.extra ?? []),
  ];
  const proc = Bun.spawn(args, { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: o.dir }, stdout: 'pipe', stderr: 'pipe' });
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const events: Record<string, unknown>[] = [];
  let out = '';
  void lines(proc.stderr as ReadableStream<Uint8Array>, (line) => {
    try {
      events.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      events.push({ type: 'text', line });
    }
  });
  void lines(proc.stdout as ReadableStream<Uint8Array>, (line) => (out += `${line}\n`));
  const c: CosignProc = {
    key: o.key,
    events,
    stdout: () => out,
    alive: () => !exited,
    async stop() {
      if (exited) return;
      proc.kill('SIGTERM');
      const r = await Promise.race([proc.exited, Bun.sleep(5000).then(() => null)]);
      if (r === null) await c.kill9();
      await Bun.sleep(20); // let the pipes drain
    },
    async kill9() {
      if (!exited) proc.kill('SIGKILL');
      await Promise.race([proc.exited, Bun.sleep(5000)]);
    },
  };
  all.add(c);
  return c;
}

/** Waits (bounded) until a co-signer process reported that it follows its subtree. */
export function cosignerReady(c: CosignProc): Promise<true> {
  return waitFor('a co-signer to start', async () => (c.events.some((e) => e.type === 'ready') ? true : undefined), 20_000);
}

/**
 * A `kv` writer over the node's HTTP API: `sendMany` signs and submits `set` transactions with the
 * writer's next nonces (each must get 202) and keeps every id in `sent`, in log order.
 */
export function kvWriter(node: string, subtree: string, writer: KeyPair) {
  let nonce = 0;
  const sent: string[] = [];
  const status = async (id: string) => (await http(node, 'GET', `/v1/transactions/${id}`)).body.status as string;
  return {
    sent,
    /** The writer's next nonce. */
    nonce: () => nonce,
    async sendMany(n: number, tag: string): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const t = signTransaction({ network: NETWORK, subtree, key: writer, nonce, call: 'set', args: { key: `${tag}-${i}`, value: { n: nonce } as JsonValue } });
        const r = await http(node, 'POST', '/v1/transactions', { json: t.envelope });
        if (r.status !== 202) throw new Error(`transaction ${tag}-${i}: ${r.status} ${JSON.stringify(r.body)}`);
        nonce++;
        ids.push(t.id);
      }
      sent.push(...ids);
      return ids;
    },
    status,
    allExecuted: (ids: string[], what: string) =>
      waitFor(what, async () => ((await Promise.all(ids.map(status))).every((s) => s === 'executed') ? true : undefined), 20_000),
    head: async () => (await http(node, 'GET', `/v1/subtrees/${subtree}`)).body,
  };
}

export async function stopAllCosigners(): Promise<void> {
  await Promise.all([...all].map((c) => c.kill9()));
  all.clear();
}

/** Runs a one-shot CLI command to completion and returns its exit code and output. */
export async function runCli(args: string[], cwd = REPO_ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([BUN, 'src/cli/main.ts', ...args], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd }, stdout: 'pipe', stderr: 'pipe' });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

async function lines(stream: ReadableStream<Uint8Array>, onLine: (l: string) => void): Promise<void> {
  const dec = new TextDecoder();
  const reader = stream.getReader();
  let buf = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (line) onLine(line);
      }
    }
  } catch {
    // the process died
  }
  if (buf.trim()) onLine(buf.trim());
}
