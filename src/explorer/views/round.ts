import { inspectRound, receiptsMatchRoot, type Receipt, type TransactionStatus } from 'dstp/client';
import { href, type Ctx } from '../context.ts';
import { badge, field, h, hash, link, short, table, time } from '../dom.ts';
import { modeText } from './list.ts';
import { finality } from './subtree.ts';

/** Receipts fetched per round (one request each); beyond this the receipts root is not recomputed. */
const MAX_RECEIPTS = 200;
const PARALLEL = 4;

/** A round: header fields, signatures, transactions and receipts (with gas), each root recomputed here. */
export async function roundView(ctx: Ctx, root: HTMLElement, id: string, height: number): Promise<void> {
  const [head, round] = await Promise.all([ctx.head(id), ctx.client.getRound(id, height)]);
  const check = inspectRound(round, head.mode);
  const hd = check.header;
  const txs = round.txs ?? [];
  const receiptsCell = h('span', null, badge('pending', 'fetching receipts'));
  const txBody = h('tbody', null, txs.slice(0, MAX_RECEIPTS).map((t, i) => h('tr', { 'data-tx': t }, h('td', { class: 'num' }, i), h('td', null, link(href.tx(t), h('code', { title: t }, short(t)))), h('td', null, '…'), h('td', null, ''), h('td', null, ''))));

  root.replaceChildren(
    h('nav', { class: 'crumbs' }, link(href.subtree(id), head.name), ' › round ', hd.height),
    h('h1', null, `Round ${hd.height}`),
    h(
      'dl',
      { class: 'fields', id: 'round-header' },
      field('hash', hash(check.hash), ' ', check.hashMatches === false ? badge('fail', 'the node reports another hash') : badge('ok', 'digest("round", header)')),
      field('subtree', link(href.subtree(id), h('code', null, hd.subtree))),
      field('network', hd.network),
      field('prev', hd.height > 0 ? link(href.round(id, hd.height - 1), h('code', null, hd.prev)) : h('code', null, hd.prev)),
      field('state root', hash(hd.stateRoot)),
      field('tx root', hash(hd.txRoot), ' ', check.txRootMatches ? badge('ok', 'RFC 6962 root of the tx ids') : badge('fail', 'does not match the listed tx ids')),
      field('receipts root', hash(hd.receiptsRoot), ' ', receiptsCell),
      field('tx count', hd.txCount),
      field('proposer', hash(hd.proposer)),
      field('time', time(hd.time)),
    ),
    h('h2', null, 'Signatures'),
    h('p', { id: 'finality' }, finality(check.final, hd.height, `${check.signatures.filter((x) => x.valid).length} valid signature(s) under ${modeText(head.mode)}`)),
    table(['signer', 'signature'], check.signatures.map((s) => h('tr', null, h('td', null, hash(s.signer)), h('td', null, s.valid ? badge('ok', 'valid') : badge('fail', 'invalid'))))),
    h('h2', null, `Transactions (${txs.length})`),
    txs.length ? h('div', { class: 'scroll' }, h('table', { id: 'txs' }, h('thead', null, h('tr', null, ['#', 'id', 'status', 'code', 'gas'].map((c) => h('th', null, c)))), txBody)) : h('p', { class: 'note' }, 'No transactions.'),
    h('nav', { class: 'pager' }, hd.height > 0 ? link(href.round(id, hd.height - 1), '← previous') : null, hd.height < head.height ? link(href.round(id, hd.height + 1), 'next →') : null),
  );

  if (txs.length === 0) {
    receiptsCell.replaceChildren(receiptsMatchRoot([], hd) ? badge('ok', 'empty list') : badge('fail', 'not the empty root'));
    return;
  }
  if (txs.length > MAX_RECEIPTS) {
    receiptsCell.replaceChildren(badge('skip', `not recomputed: more than ${MAX_RECEIPTS} transactions`));
  }
  const receipts: Receipt[] = [];
  let next = 0;
  const worker = async () => {
    while (next < Math.min(txs.length, MAX_RECEIPTS)) {
      const i = next++;
      const st: TransactionStatus = await ctx.client.getTransaction(txs[i]!);
      const row = txBody.children[i] as HTMLElement;
      const r = st.receipt;
      if (r) receipts.push(r);
      row.children[2]!.replaceChildren(h('span', { class: `status ${st.status}` }, st.status));
      row.children[3]!.replaceChildren(r?.code ?? '');
      row.children[4]!.replaceChildren(r?.gas !== undefined ? String(r.gas) : '');
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  if (txs.length <= MAX_RECEIPTS) {
    receiptsCell.replaceChildren(receiptsMatchRoot(receipts, hd) ? badge('ok', 'RFC 6962 root of the receipts') : badge('fail', 'the receipts do not hash to this root'));
  }
}
