import { DstpClient, type NodeInfo, type RoundResponse, type SubtreeHead } from 'dstp/client';

/** A final round from `GET /v1/events` (SPEC §12): the round object plus its subtree and hash. */
export interface RoundEvent extends RoundResponse {
  subtree: string;
  height: number;
}

/**
 * ONE EventSource on the node-wide `GET /v1/events` for the whole page (browsers allow six
 * connections per host), opened when a view first listens and kept for the page's life; views
 * subscribe and unsubscribe. The browser resumes it with Last-Event-ID after a drop.
 */
export class RoundFeed {
  private source: EventSource | undefined;
  private readonly listeners = new Set<(e: RoundEvent) => void>();
  private readonly statusListeners = new Set<(s: string) => void>();
  constructor(private readonly url: string) {}

  subscribe(fn: (e: RoundEvent) => void): () => void {
    this.listeners.add(fn);
    this.open();
    return () => this.listeners.delete(fn);
  }

  onStatus(fn: (s: string) => void): void {
    this.statusListeners.add(fn);
  }

  private open(): void {
    if (this.source) return;
    const es = (this.source = new EventSource(this.url));
    const status = (s: string) => this.statusListeners.forEach((f) => f(s));
    status('connecting');
    es.onopen = () => status('live');
    es.onerror = () => status(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
    es.addEventListener('round', (m) => {
      let ev: RoundEvent;
      try {
        ev = JSON.parse((m as MessageEvent<string>).data) as RoundEvent;
      } catch {
        return; // a malformed event is the node's fault; the views keep what they verified
      }
      if (typeof ev?.subtree !== 'string' || typeof ev.header?.height !== 'number') return;
      ev.height = ev.header.height;
      this.listeners.forEach((f) => f(ev));
    });
  }
}

export interface Ctx {
  base: string;
  client: DstpClient;
  feed: RoundFeed;
  info(): Promise<NodeInfo>;
  /** Subtree heads, fetched once per page load (id, owner, mode and request never change). */
  head(id: string): Promise<SubtreeHead>;
}

export function createCtx(base: string): Ctx {
  const client = new DstpClient({ baseUrl: base });
  const heads = new Map<string, Promise<SubtreeHead>>();
  return {
    base,
    client,
    feed: new RoundFeed(`${base}/v1/events`),
    info: () => client.info(),
    head(id) {
      let p = heads.get(id);
      if (!p) {
        heads.set(id, (p = client.getSubtree(id)));
        p.catch(() => heads.delete(id));
      }
      return p;
    },
  };
}

/** Hash routes: every view has a shareable URL (`/explorer#/s/<id>/k/<key>?h=3`). */
export const href = {
  list: (after?: string) => (after ? `#/?after=${after}` : '#/'),
  subtree: (id: string, before?: number) => `#/s/${id}${before !== undefined ? `?before=${before}` : ''}`,
  round: (id: string, height: number) => `#/s/${id}/r/${height}`,
  key: (id: string, key: string, height?: number) => `#/s/${id}/k/${encodeURIComponent(key)}${height !== undefined ? `?h=${height}` : ''}`,
  tx: (id: string) => `#/tx/${id}`,
  verify: () => '#/verify',
};
