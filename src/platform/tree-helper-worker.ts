/**
 * Entry of a tree helper thread (tree-helper.ts): walks its part of a large batch over a
 * `MemoryNodeStore`'s shared segments (`SideSpace`, src/core/smt/apply-side.ts) and answers in the
 * job's shared `out`. It hashes with this runtime's fastest SHA-256, which `selectSha256` has
 * checked against noble, so its nodes are the ones the store's own thread would make.
 */
import { SideSpace, type SideJob } from '../core/smt/apply-side.ts';
import { selectSha256 } from './sha256.ts';

declare const self: { onmessage: ((e: MessageEvent<SideJob>) => void) | null; postMessage(msg: 'ready'): void };

const sha = selectSha256();
const hashInto = sha.hashInto ?? ((data: Uint8Array, out: Uint8Array) => out.set(sha.hash(data)));
const space = new SideSpace(hashInto);

self.onmessage = (e) => space.run(e.data);
// Jobs are sent only after this: a batch never waits for the thread to load.
self.postMessage('ready');
