import { fetchChain, verifyChainResponse, verifyStateResponse, type ChainResponse, type VerifiedChain } from 'dstp/client';
import { href, type Ctx } from '../context.ts';
import { badge, errorBox, field, h, json, link } from '../dom.ts';
import { CHAIN_TAIL, STATE_LINKS, drawProof, linkList } from '../links.ts';

/**
 * A key: its value at any height with the proof drawn and verified here, then the whole chain
 * (signed round → global tree → checkpoint → log → signed note → .ots), every link checked by
 * the SDK in this page.
 */
export async function keyView(ctx: Ctx, root: HTMLElement, id: string, key: string, height: number | undefined): Promise<void> {
  const [head, info, state] = await Promise.all([ctx.head(id), ctx.info(), ctx.client.getState(id, key, height !== undefined ? { height } : {})]);
  const stateLinks = linkList(STATE_LINKS);
  const chainSection = h('section', { id: 'chain' }, h('h2', null, 'The chain to Bitcoin'), h('p', { class: 'note' }, 'loading…'));
  root.replaceChildren(
    h('nav', { class: 'crumbs' }, link(href.subtree(id), head.name), ' › key'),
    h('h1', { class: 'key' }, key),
    h(
      'section',
      { id: 'state' },
      h('h2', null, `Value at height ${state.height}`),
      h('dl', { class: 'fields' }, field('value', state.exists ? json(state.value) : h('em', null, 'absent (the proof shows exclusion)')), field('state root', h('code', null, state.root))),
      h('nav', { class: 'pager' }, state.height > 0 ? link(href.key(id, key, state.height - 1), `← at height ${state.height - 1}`) : null, state.height < head.height ? link(href.key(id, key, state.height + 1), `at height ${state.height + 1} →`) : null, height !== undefined ? link(href.key(id, key), 'latest') : null),
      stateLinks.el,
      h('h3', null, 'The proof, from the leaf up to the root'),
      drawProof(state.proof, key),
    ),
    chainSection,
  );
  try {
    await verifyStateResponse(state, { key, subtree: id, request: head.request, network: info.network, onLink: stateLinks.onLink });
    stateLinks.finish();
  } catch (e) {
    stateLinks.fail(e);
  }

  let chain: ChainResponse;
  try {
    chain = await fetchChain(ctx.base, id, key);
  } catch (e) {
    const none = e instanceof Error && / 404 /.test(e.message);
    chainSection.replaceChildren(h('h2', null, 'The chain to Bitcoin'), none ? h('p', { class: 'note' }, 'No checkpoint holds this subtree yet: the chain ends at the signed round.') : errorBox(e));
    return;
  }
  const parents = Array.isArray(chain.chain?.parents) && chain.chain.parents.length > 0;
  const chainLinks = linkList([...STATE_LINKS, ...(parents ? ['parent'] : []), ...CHAIN_TAIL]);
  const outcome = h('p', { id: 'chain-outcome' });
  const bundle = { ...chain, request: head.request, nodeKey: info.publicKey, origin: info.origin };
  const download = h('a', { download: `dstp-chain-${id.slice(0, 8)}.json`, href: URL.createObjectURL(new Blob([JSON.stringify(bundle, null, 2)], { type: 'application/json' })) }, 'download this chain (JSON, verifiable offline)');
  chainSection.replaceChildren(
    h('h2', null, 'The chain to Bitcoin'),
    h('p', { class: 'note' }, `Value at height ${chain.height}, the round checkpoint ${chain.chain?.global?.seq ?? '?'} holds. Trusted: the node key ${info.publicKey} and origin "${info.origin}" (from /v1/info).`),
    chainLinks.el,
    outcome,
    h('p', null, download),
  );
  try {
    const v: VerifiedChain = await verifyChainResponse(chain, {
      key,
      subtree: id,
      request: head.request,
      network: info.network,
      nodeKey: info.publicKey,
      origin: info.origin ?? '',
      onLink: chainLinks.onLink,
    });
    chainLinks.finish({ ots: ['absent', 'no .ots yet: no calendar has answered'] });
    outcome.replaceChildren(
      v.ots === 'bitcoin' ? badge('ok', 'anchored in Bitcoin') : v.ots === 'pending' ? badge('pending', 'timestamp pending Bitcoin confirmation') : badge('absent', 'the chain ends at the signed note'),
      ` checkpoint ${v.checkpoint.seq}, log size ${v.logSize}`,
    );
  } catch (e) {
    chainLinks.fail(e);
    outcome.replaceChildren(badge('fail', 'the chain does not verify'));
  }
}
