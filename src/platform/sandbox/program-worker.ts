/**
 * Entry of the program thread (program-thread.ts): plans and executes rounds of user programs
 * off the thread that serves HTTP. It runs the core's own `planReads` and `executeRound` with
 * its own sandbox (the same pinned engine, warm slots included), so moving a round here never
 * changes a root, a receipt or its gas; errors go back with their kind (a DstpError's code, a
 * SandboxHostError's abortsRound) and are rethrown there.
 */
import { systemCalls } from '../../core/consensus/system.ts';
import { DstpError } from '../../core/errors.ts';
import { executeRound, loadedState, planReads } from '../../core/execute.ts';
import { nativeSha256 } from '../sha256.ts';
import type { Sandbox } from './engine.ts';
import { loadSandbox } from './load.ts';
import type { RoundSpec, ThreadError, ThreadReply, ThreadRequest } from './program-thread-wire.ts';
import { SandboxedProgram } from './sandboxed-program.ts';

declare const self: { onmessage: ((e: MessageEvent<ThreadRequest>) => void) | null; postMessage(msg: ThreadReply): void };

const hash = nativeSha256();
let sandbox: Promise<Sandbox> | undefined;
/** Programs by id, with their parsed configs by config text: checkCall and reads memos live here. */
const programs = new Map<string, { program: SandboxedProgram; configs: Map<string, unknown> }>();

async function prepared(spec: RoundSpec) {
  let p = programs.get(spec.id);
  if (!p) {
    if (programs.size >= 64) programs.clear();
    p = { program: new SandboxedProgram(spec.id, spec.source, await (sandbox ??= loadSandbox())), configs: new Map() };
    programs.set(spec.id, p);
  }
  const key = JSON.stringify(spec.config);
  let config = p.configs.get(key);
  if (config === undefined) {
    config = p.program.parseConfig(spec.config);
    if (p.configs.size >= 256) p.configs.clear();
    p.configs.set(key, config);
  }
  const system = systemCalls(spec.mode, { height: spec.height, network: spec.network, subtree: spec.subtree, hash, ...(spec.host !== undefined ? { host: spec.host } : {}) });
  return { program: p.program, config, system, host: spec.host };
}

self.onmessage = (e) => void run(e.data);

async function run(msg: ThreadRequest): Promise<void> {
  try {
    const { program, config, system, host } = await prepared(msg.spec);
    if (msg.kind === 'plan') {
      self.postMessage({ kind: 'planned', job: msg.job, keys: planReads(program, config, msg.txs, system, host) });
    } else {
      const out = executeRound({ program, config, txs: msg.txs, state: loadedState(msg.values), ...(system ? { system } : {}), ...(host !== undefined ? { host } : {}) });
      self.postMessage({ kind: 'executed', job: msg.job, writes: out.writes, receipts: out.receipts });
    }
  } catch (err) {
    const error: ThreadError = { message: err instanceof Error ? err.message : String(err) };
    if (err instanceof DstpError) {
      error.code = err.code;
      if (err.details) error.details = err.details;
    }
    if ((err as { abortsRound?: unknown })?.abortsRound === true) error.abortsRound = true;
    self.postMessage({ kind: 'error', job: msg.job, error });
  }
}
