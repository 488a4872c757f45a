/**
 * Starts the node under each runtime it claims — Bun, Node, Deno, workerd (via `wrangler dev`) —
 * as a child process on 127.0.0.1, the way the package scripts start it, and tells when a runtime
 * cannot run here. Used by the runtime matrix, the many-instances test and bench/runtimes.ts.
 *
 * Every child runs in its own process group (setsid), so stopping it also stops what it spawned
 * (wrangler starts workerd and esbuild); only those groups are ever signalled.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(REPO_ROOT, 'node_modules', '.bin');

export type RuntimeName = 'bun' | 'node' | 'deno' | 'workerd';
export const RUNTIMES: readonly RuntimeName[] = ['bun', 'node', 'deno', 'workerd'];

export interface Availability {
  ok: boolean;
  /** Why not, when not. */
  why?: string;
}

const which = (cmd: string): string | null => Bun.which(cmd);

/** Is this runtime's binary here? (Installed by `npm ci`: bun, deno and wrangler/workerd are npm packages; node runs npm.) */
export function availability(name: RuntimeName): Availability {
  const need: Record<RuntimeName, string[]> = {
    bun: [join(BIN, 'bun')],
    node: [which('node') ?? 'node (not on PATH)'],
    deno: [join(BIN, 'deno')],
    workerd: [join(BIN, 'wrangler'), join(BIN, 'workerd')],
  };
  const missing = need[name].filter((p) => !existsSync(p));
  return missing.length === 0 ? { ok: true } : { ok: false, why: `missing ${missing.join(', ')}` };
}

/**
 * In CI every runtime must run (they are all installed by `npm ci`): a missing one fails the
 * test there. Elsewhere it is skipped with the reason printed.
 */
export function requireOrSkip(name: RuntimeName): boolean {
  const a = availability(name);
  if (a.ok) return true;
  if (process.env.CI) throw new Error(`runtime ${name} is required in CI but ${a.why}`);
  console.warn(`[runtime] skipping ${name}: ${a.why}`);
  return false;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

// ---------- the Node bundle (Node 20 has no TypeScript stripping) ----------

let nodeBundle: Promise<string> | null = null;
const bundleDirs: string[] = [];

/** Builds src/runtime/node.ts as `npm run start:node` does, once per test process. */
export function buildNodeBundle(): Promise<string> {
  nodeBundle ??= (async () => {
    // Inside the repository, so Node resolves the external packages from its node_modules.
    const out = join(REPO_ROOT, 'dist', `.test-node-${process.pid}`);
    mkdirSync(out, { recursive: true });
    bundleDirs.push(out);
    const p = Bun.spawn([join(BIN, 'bun'), 'build', 'src/runtime/node.ts', '--target=node', '--packages=external', `--outdir=${out}`], {
      cwd: REPO_ROOT,
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
    if (code !== 0) throw new Error(`bun build of the Node entry failed (${code}): ${err}`);
    return join(out, 'node.js');
  })();
  return nodeBundle;
}

// ---------- processes ----------

export interface RuntimeNode {
  runtime: RuntimeName;
  url: string;
  pid: number;
  /** ms from spawn to the first `200` of GET /v1/info. */
  coldStartMs: number;
  alive(): boolean;
  /** Last 20 kB of the child's output (stderr, and stdout for wrangler). */
  output(): string;
  /** SIGTERM to the group (graceful: the node drains and gives up its lease), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL to the group, at once. */
  kill9(): Promise<void>;
  /** SIGSTOP / SIGCONT to the group: a frozen process (GC pause, stalled VM) whose clock runs on. */
  pause(): void;
  resume(): void;
}

export interface LaunchOptions {
  /** DSTP_* settings (plus PORT/HOST for bun/node/deno; workerd gets them as --var bindings). */
  env: Record<string, string>;
  timeoutMs?: number;
  /** Start through `npm run <script>` itself (start, start:node, start:deno, dev:worker) instead of the command it runs. */
  viaNpm?: boolean;
}

/** The package script that starts each runtime. */
export const NPM_SCRIPT: Record<RuntimeName, string> = { bun: 'start', node: 'start:node', deno: 'start:deno', workerd: 'dev:worker' };

const live = new Set<RuntimeNode>();

/** Stops every node still running (for afterAll) and removes test bundles. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((n) => n.kill9()));
  live.clear();
  for (const d of bundleDirs.splice(0)) rmSync(d, { recursive: true, force: true });
  nodeBundle = null;
}

/** The command line `npm run start:*` / `dev:worker` would run, with the node on a given port. */
async function commandFor(name: RuntimeName, env: Record<string, string>, port: number, viaNpm = false): Promise<string[]> {
  if (viaNpm) {
    const npm = which('npm') ?? 'npm';
    // dev:worker is `wrangler dev --test-scheduled`: the same extra flags follow `--`.
    const extra = name === 'workerd' ? (await commandFor(name, env, port)).slice(3) : [];
    return [npm, 'run', '--silent', NPM_SCRIPT[name], ...(extra.length > 0 ? ['--', ...extra] : [])];
  }
  switch (name) {
    case 'bun':
      return [join(BIN, 'bun'), 'src/runtime/bun.ts'];
    case 'node':
      return [which('node') ?? 'node', await buildNodeBundle()];
    case 'deno':
      return [
        join(BIN, 'deno'),
        'run',
        '--allow-net',
        '--allow-env',
        '--allow-read',
        '--allow-write',
        '--allow-ffi',
        '--allow-sys',
        '--unstable-cron',
        'src/runtime/deno.ts',
      ];
    case 'workerd': {
      const vars = Object.entries(env)
        .filter(([k]) => k.startsWith('DSTP_'))
        .flatMap(([k, v]) => ['--var', `${k}:${v}`]);
      return [
        join(BIN, 'wrangler'),
        'dev',
        '--test-scheduled',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--inspector-port',
        String(await freePort()),
        '--show-interactive-dev-session=false',
        '--log-level',
        'warn',
        ...vars,
      ];
    }
  }
}

export async function launch(name: RuntimeName, opts: LaunchOptions): Promise<RuntimeNode> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const port = name === 'workerd' ? await freePort() : 0;
  const cmd = await commandFor(name, opts.env, port, opts.viaNpm);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    PORT: '0',
    HOST: '127.0.0.1',
    NO_COLOR: '1',
    // wrangler: no telemetry, and no fetch of the `cf` object from the internet.
    WRANGLER_SEND_METRICS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    ...(process.env.DENO_DIR ? { DENO_DIR: process.env.DENO_DIR } : {}),
    ...opts.env,
  };
  const useSetsid = existsSync('/usr/bin/setsid') || which('setsid') !== null;
  const t0 = performance.now();
  const proc = Bun.spawn(useSetsid ? ['setsid', ...cmd] : cmd, { cwd: REPO_ROOT, env, stdout: 'pipe', stderr: 'pipe' });
  let exited = false;
  void proc.exited.then(() => (exited = true));
  let out = '';
  const append = (s: string) => (out = (out + s).slice(-20_000));
  let stdoutBuf = '';
  void drain(proc.stderr, append);
  void drain(proc.stdout, (s) => {
    stdoutBuf += s;
    append(s);
  });
  const signal = (sig: 'SIGTERM' | 'SIGKILL' | 'SIGSTOP' | 'SIGCONT') => {
    if (exited) return;
    try {
      // The group id is the child's pid (setsid made it a session leader).
      if (useSetsid) process.kill(-proc.pid, sig);
      else proc.kill(sig);
    } catch {
      // already gone
    }
  };
  const node: RuntimeNode = {
    runtime: name,
    url: '',
    pid: proc.pid,
    coldStartMs: NaN,
    alive: () => !exited,
    output: () => out,
    async stop(graceMs = 5000) {
      signal('SIGTERM');
      const r = await Promise.race([proc.exited, Bun.sleep(graceMs).then(() => null)]);
      if (r === null) await node.kill9();
      else signal('SIGKILL'); // leftovers of the group (workerd under wrangler)
      live.delete(node);
    },
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    async kill9() {
      signal('SIGKILL');
      await Promise.race([proc.exited, Bun.sleep(5000)]);
      live.delete(node);
    },
  };
  live.add(node);
  try {
    const deadline = t0 + timeoutMs;
    let url = name === 'workerd' ? `http://127.0.0.1:${port}` : '';
    while (performance.now() < deadline && !exited) {
      if (!url) {
        const m = /listening on (http:\/\/\S+)/.exec(stdoutBuf);
        if (m) url = m[1]!;
      }
      if (url && (await ok(`${url}/v1/info`))) {
        node.url = url;
        node.coldStartMs = performance.now() - t0;
        return node;
      }
      await Bun.sleep(url ? 10 : 5);
    }
    throw new Error(exited ? 'the process exited' : `no 200 from /v1/info within ${timeoutMs} ms`);
  } catch (err) {
    await node.kill9();
    throw new Error(`${name} node did not start: ${String(err)}\n--- output ---\n${out}`);
  }
}

async function ok(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function drain(stream: ReadableStream<Uint8Array>, onText: (s: string) => void): Promise<void> {
  const dec = new TextDecoder();
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onText(dec.decode(value, { stream: true }));
    }
  } catch {
    // the child is gone
  }
}
