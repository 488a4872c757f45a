import { inspectTransaction, verifyAcceptance, type Acceptance } from 'dstp/client';
import { href, type Ctx } from '../context.ts';
import { badge, field, h, hash, json, link } from '../dom.ts';

/** A transaction: status, its id and sender signature recomputed, the node's signed acceptance checked, round and receipt. */
export async function txView(ctx: Ctx, root: HTMLElement, id: string): Promise<void> {
  const [st, info] = await Promise.all([ctx.client.getTransaction(id), ctx.info()]);
  const subtree = typeof st.subtree === 'string' ? st.subtree : undefined;
  const head = subtree ? await ctx.head(subtree).catch(() => undefined) : undefined;
  // A followed subtree's acceptances are signed by its origin, whose key the follow pinned.
  const signer = head?.origin && subtree ? (await ctx.client.getFollow(subtree).catch(() => undefined))?.originKey ?? info.publicKey : info.publicKey;
  const own = inspectTransaction(st);
  let acceptance: HTMLElement;
  const accept = st.accept as Acceptance | undefined;
  if (!accept || typeof st.sig !== 'string') acceptance = badge('skip', 'the node sent no acceptance');
  else {
    try {
      verifyAcceptance(accept, st.sig, signer, { tx: id, ...(subtree ? { subtree } : {}) });
      acceptance = badge('ok', `signed by ${signer === info.publicKey ? 'this node' : 'the origin node'}: seq ${accept.seq}`);
    } catch (e) {
      acceptance = badge('fail', e instanceof Error ? e.message : String(e));
    }
  }
  const r = st.receipt;
  root.replaceChildren(
    h('nav', { class: 'crumbs' }, subtree ? link(href.subtree(subtree), head?.name ?? subtree.slice(0, 8)) : null, ' › transaction'),
    h('h1', null, 'Transaction ', h('span', { class: `status ${st.status}`, id: 'tx-status' }, st.status)),
    h(
      'dl',
      { class: 'fields' },
      field('id', hash(id), ' ', own.idMatches ? badge('ok', 'digest("tx", tx)') : badge('fail', 'not the digest of the transaction sent')),
      field('sender', st.envelope ? hash(st.envelope.tx.sender) : '?', ' ', own.senderSignatureValid ? badge('ok', 'sender signature valid') : badge('fail', 'sender signature invalid')),
      field('acceptance', h('span', { id: 'acceptance' }, acceptance)),
      field('subtree', subtree ? link(href.subtree(subtree), h('code', null, subtree)) : '?'),
      field('log position', st.seq ?? '?'),
      field('round', st.height !== undefined && subtree ? link(href.round(subtree, st.height), `height ${st.height}`) : 'not executed yet'),
      field('receipt', r ? h('span', { id: 'receipt' }, r.status, r.code ? ` (${r.code})` : '', `, index ${r.index}`, r.gas !== undefined ? `, gas ${r.gas}` : '') : '–'),
      st.envelope ? field('call', h('code', null, st.envelope.tx.call), json(st.envelope.tx.args)) : null,
    ),
  );
}
