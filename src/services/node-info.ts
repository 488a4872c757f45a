import type { NodeContext } from './context.ts';

/** Security modes this node can run rounds for (SPEC §5). */
export const SUPPORTED_MODES = ['poa', 'multisig', 'pos'] as const;

export interface NodeInfo {
  /** Network id every signed object must name. */
  network: string;
  /** The node key (`ed25519:hex`): signs acceptances, checkpoints and the rounds it is the authority for. */
  publicKey: string;
  /** Checkpoint origin line (SPEC §9). */
  origin: string;
  /** Node software version. */
  version: string;
  /** Programs a subtree may run. */
  programs: string[];
  modes: string[];
  limits: { bodyBytes: number; batchBodyBytes: number; argsBytes: number; batch: number };
}

/** GET /v1/info */
export function nodeInfo(ctx: NodeContext, version: string, limits: NodeInfo['limits']): NodeInfo {
  return {
    network: ctx.config.network,
    publicKey: ctx.signer.publicKey,
    origin: ctx.config.origin,
    version,
    programs: [...ctx.programs.names],
    modes: [...SUPPORTED_MODES],
    limits,
  };
}
