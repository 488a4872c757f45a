/**
 * The core (src/core/) is the part auditors re-implement and every runtime must agree on: it may
 * import only itself and the pure libraries named below, and it must not reach for clocks,
 * randomness, the environment, the network, the file system, threads, shared memory or a runtime's
 * globals (execution is single-threaded: the same log always runs the same way). This test reads
 * every core source file and checks both, so a stray import or `Date.now()` fails the build.
 */
import { describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const CORE = resolve(import.meta.dir, '../../src/core');
const ALLOWED_PACKAGES = [/^@noble\/(curves|hashes)\//, /^canonicalize$/, /^@confio\/ics23$/];

/** Calls and globals that would make execution depend on the machine rather than the log. */
const FORBIDDEN: { what: string; re: RegExp }[] = [
  { what: 'clock', re: /\bDate\.now\b|\bnew Date\b|\bperformance\.now\b/ },
  { what: 'randomness', re: /\bMath\.random\b|\bgetRandomValues\b|\brandomUUID\b|\brandomBytes\b/ },
  { what: 'environment', re: /\bprocess\.|\bBun\.|\bDeno\.|\bnavigator\./ },
  { what: 'network', re: /\bfetch\s*\(|\bWebSocket\b|\bXMLHttpRequest\b/ },
  { what: 'timers', re: /\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b|\bqueueMicrotask\b/ },
  { what: 'dynamic loading', re: /\brequire\s*\(|\bimport\s*\(|\beval\s*\(|\bnew Function\b/ },
  { what: 'threads', re: /\bWorker\b|\bMessageChannel\b|\bMessagePort\b|\bBroadcastChannel\b|\bpostMessage\b|\bworker_threads\b/ },
  { what: 'shared memory', re: /\bSharedArrayBuffer\b|\bAtomics\b|\bWeakRef\b|\bFinalizationRegistry\b/ },
];
/** Modules no core file may import, even by a relative path that happens to resolve. */
const FORBIDDEN_MODULES = /^(bun:|node:|deno:)|^(worker_threads|child_process|fs|os|cluster)$/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The file without comments and string contents, so prose about `Bun.SHA256` does not count. */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:])\/\/.*$/gm, '$1')
    .replace(/`(?:\\.|[^`\\])*`/g, '``')
    .replace(/'(?:\\.|[^'\\\n])*'/g, "''")
    .replace(/"(?:\\.|[^"\\\n])*"/g, '""');
}

const files = sources(CORE);

describe('the core is pure', () => {
  test('it has source files to check', () => {
    expect(files.length).toBeGreaterThan(20);
  });

  test('imports stay inside src/core/ or name an allowed pure package', () => {
    const bad: string[] = [];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/gm)) {
        const spec = m[1]!;
        if (FORBIDDEN_MODULES.test(spec)) {
          bad.push(`${relative(CORE, f)} → ${spec}`);
        } else if (spec.startsWith('.')) {
          const target = resolve(dirname(f), spec);
          if (relative(CORE, target).startsWith('..')) bad.push(`${relative(CORE, f)} → ${spec}`);
        } else if (!ALLOWED_PACKAGES.some((re) => re.test(spec))) {
          bad.push(`${relative(CORE, f)} → ${spec}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  test('no clock, randomness, environment, network, timers, dynamic loading, threads or shared memory', () => {
    const bad: string[] = [];
    for (const f of files) {
      const lines = code(readFileSync(f, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        for (const { what, re } of FORBIDDEN) if (re.test(line)) bad.push(`${relative(CORE, f)}:${i + 1} ${what}: ${line.trim()}`);
      });
    }
    expect(bad).toEqual([]);
  });

  test('the checker itself catches what it looks for', () => {
    const sample = code(
      "const t = Date.now(); // Bun.SHA256 in a comment\nconst s = 'process.env';\nfetch(url);\nnew Worker(u);\nAtomics.wait(a, 0, 0);\n/* SharedArrayBuffer in prose */",
    );
    const hits = FORBIDDEN.filter(({ re }) => sample.split('\n').some((l) => re.test(l))).map((x) => x.what);
    expect(hits).toEqual(['clock', 'network', 'threads', 'shared memory']);
    expect(['bun:ffi', 'node:worker_threads', 'worker_threads', './hash.ts', '@noble/hashes/sha2.js'].map((m) => FORBIDDEN_MODULES.test(m))).toEqual([true, true, true, false, false]);
  });
});
