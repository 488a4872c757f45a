/**
 * A lying node for co-signer tests: an HTTP proxy on 127.0.0.1 in front of a real node that
 * forwards every request and rewrites only what the node says, through `lie`. Signatures posted
 * for rounds the node does not know (the proxy's own fabricated proposals) are verified and kept
 * here, as a lying node would keep them, so a test can count what each fabricated header got.
 */
import { fromHex } from '../../src/core/hex.ts';
import { verifyDigest } from '../../src/core/keys.ts';

export interface Lie {
  /** Rewrites the JSON answer of `GET …/proposals` (a page `{items, next?}`). */
  proposals?: (page: { items: Record<string, unknown>[]; next?: string }) => { items: Record<string, unknown>[]; next?: string };
  /** Rewrites the JSON answer of `GET /v1/subtrees/:id` (the head). */
  head?: (head: Record<string, unknown>) => Record<string, unknown>;
}

export interface LyingNode {
  url: string;
  /** Fabricated round hash → valid signatures the proxy collected for it. */
  collected: Map<string, { signer: string; sig: string }[]>;
  /** Round hashes the proxy answers signatures for itself. */
  fabricated: Set<string>;
  setLie(l: Lie): void;
  close(): void;
}

export function lyingNode(target: string): LyingNode {
  let lie: Lie = {};
  const collected = new Map<string, { signer: string; sig: string }[]>();
  const fabricated = new Set<string>();
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const url = new URL(req.url);
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.text();
      if (req.method === 'POST' && /\/rounds\/\d+\/signatures$/.test(url.pathname) && body) {
        const b = JSON.parse(body) as { signer: string; sig: string };
        for (const h of fabricated) {
          let ok = false;
          try {
            ok = verifyDigest(b.signer, fromHex(h, 32), fromHex(b.sig, 64));
          } catch {
            ok = false;
          }
          if (ok) {
            const list = collected.get(h) ?? [];
            if (!list.some((x) => x.signer === b.signer)) list.push(b);
            collected.set(h, list);
            return Response.json({ hash: h, status: 'open', signatures: list }, { status: 202 });
          }
        }
      }
      const res = await fetch(target + url.pathname + url.search, { method: req.method, headers: req.headers, ...(body !== undefined ? { body } : {}) });
      if (req.method === 'GET' && /\/proposals$/.test(url.pathname) && res.status === 200 && lie.proposals) {
        const page = (await res.json()) as { items: Record<string, unknown>[]; next?: string };
        return Response.json(lie.proposals(page));
      }
      if (req.method === 'GET' && /^\/v1\/subtrees\/[0-9a-f]{64}$/.test(url.pathname) && res.status === 200 && lie.head) {
        return Response.json(lie.head((await res.json()) as Record<string, unknown>));
      }
      return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    collected,
    fabricated,
    setLie: (l) => {
      lie = l;
    },
    close: () => server.stop(true),
  };
}
