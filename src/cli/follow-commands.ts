import { DstpClient } from '../client/http.ts';
import { required, str, UsageError, type Values } from './args.ts';
import type { Command, Io } from './commands.ts';

/** `dstp follow` and `dstp follows`: following subtrees hosted on other nodes (SPEC §12). */

function nodeClient(values: Values, io: Io): DstpClient {
  const adminToken = str(values, 'admin-token') ?? io.env.DSTP_ADMIN_TOKEN;
  return new DstpClient({
    baseUrl: str(values, 'node') ?? io.env.DSTP_NODE_URL ?? 'http://127.0.0.1:8787',
    ...(adminToken ? { adminToken } : {}),
    ...(io.fetch ? { fetch: io.fetch } : {}),
  });
}

export const follow: Command = {
  summary: 'make the node (--node) follow a subtree hosted on another node (admin): a verified replica it serves',
  usage: 'dstp follow --origin URL --subtree ID [--verify full|headers] [--node URL] [--admin-token T]\n       dstp follow --subtree ID --stop [--node URL] [--admin-token T]',
  options: { origin: { type: 'string' }, subtree: { type: 'string' }, verify: { type: 'string' }, stop: { type: 'boolean' } },
  async run(values, io) {
    const subtree = required(values, 'subtree');
    const client = nodeClient(values, io);
    if (values.stop === true) {
      await client.unfollow(subtree);
      io.out({ ok: true, subtree, stopped: true });
      return 0;
    }
    const verify = str(values, 'verify');
    if (verify !== undefined && verify !== 'full' && verify !== 'headers') throw new UsageError('--verify is full or headers');
    io.out(await client.follow(required(values, 'origin'), subtree, verify));
    return 0;
  },
};

export const follows: Command = {
  summary: 'list the subtrees the node follows (status, heights, halts), or one with --subtree',
  usage: 'dstp follows [--subtree ID] [--node URL]',
  options: { subtree: { type: 'string' } },
  async run(values, io) {
    const client = nodeClient(values, io);
    const one = str(values, 'subtree');
    if (one !== undefined) {
      io.out(await client.getFollow(one));
      return 0;
    }
    const items = [];
    let cursor: string | undefined;
    for (let i = 0; i < 1000; i++) {
      const page = await client.listFollows({ limit: 200, ...(cursor !== undefined ? { cursor } : {}) });
      items.push(...page.items);
      if (!page.next) break;
      cursor = String(page.next);
    }
    io.out({ items });
    return 0;
  },
};
