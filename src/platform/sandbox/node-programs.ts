import { DstpHttpError, type DstpClient } from '../../client/http.ts';
import type { Sha256 } from '../../core/hash.ts';
import { NATIVE_PROGRAMS } from '../../core/programs/native.ts';
import type { ProgramRegistry } from '../../core/programs/registry.ts';
import type { Sandbox } from './engine.ts';
import { loadSandbox } from './load.ts';
import { ProgramLibrary } from './program-library.ts';

/**
 * The programs of whoever re-executes a node's subtrees outside it — `dstp cosign`, `replay`, an
 * auditor: `base` (natives by default) plus user programs (`js:<id>`, SPEC §7.1) fetched from
 * the node with `GET /v1/programs/:id`. `load(name)` checks that the id is the digest of the
 * engine and source the node serves (a node serving another source for the id the signed
 * creation request names is caught: `load` throws) and runs it in this process's own engine.
 */
export function programsFromNode(
  client: Pick<DstpClient, 'getProgram'>,
  opts: { hash: Sha256; base?: ProgramRegistry; sandbox?: () => Promise<Sandbox> },
): ProgramLibrary {
  const find = async (id: string) => {
    let p: { engine: unknown; source: unknown };
    try {
      p = await client.getProgram(id);
    } catch (e) {
      if (e instanceof DstpHttpError && e.status === 404) return undefined;
      throw e;
    }
    // Peer answers are input: a wrong shape is a program that does not match its id.
    if (typeof p.engine !== 'string' || typeof p.source !== 'string') throw new Error(`the node serves a program whose engine and source do not hash to ${id}`);
    return { engine: p.engine, source: p.source };
  };
  return new ProgramLibrary(opts.base ?? NATIVE_PROGRAMS, find, opts.sandbox ?? (() => loadSandbox()), opts.hash);
}
