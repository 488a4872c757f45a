import { DstpHttpError } from 'dstp/client';
import { createCtx, href } from './context.ts';
import { errorBox, h } from './dom.ts';
import { keyView } from './views/key.ts';
import { listView } from './views/list.ts';
import { roundView } from './views/round.ts';
import { subtreeView } from './views/subtree.ts';
import { txView } from './views/tx.ts';
import { verifyView } from './views/verify.ts';

/**
 * The explorer page: hash routes (shareable), one view at a time, reads from the node that
 * serves the page (same origin: /v1, and one node-wide event stream). Everything shown as
 * verified is checked here by the SDK, never taken from the node.
 */
const ctx = createCtx(location.origin);
const main = h('main', { id: 'view' });
const live = h('span', { class: 'live', id: 'live', title: 'node-wide event stream' }, '');
ctx.feed.onStatus((s) => {
  live.textContent = s === 'live' ? '● live' : s;
  live.dataset.state = s;
});

const search = h('input', { name: 'q', placeholder: 'subtree or transaction id', autocomplete: 'off', 'aria-label': 'subtree or transaction id' });
document.body.replaceChildren(
  h(
    'header',
    null,
    h('a', { href: href.list(), class: 'brand' }, 'dstp explorer'),
    h('a', { href: href.verify() }, 'verify offline'),
    h('form', { class: 'search', onsubmit: (e: Event) => (e.preventDefault(), void find(search.value.trim())) }, search),
    live,
  ),
  main,
);

/** A 64-hex id is a subtree or a transaction: ask for the subtree first. */
async function find(q: string): Promise<void> {
  if (!/^[0-9a-f]{64}$/.test(q)) return void main.replaceChildren(errorBox(new Error('an id is 64 lowercase hex characters')));
  try {
    await ctx.head(q);
    location.hash = href.subtree(q);
  } catch (e) {
    if (e instanceof DstpHttpError && e.status === 404) location.hash = href.tx(q);
    else main.replaceChildren(errorBox(e));
  }
}

let cleanup: (() => void) | void;
let generation = 0;

async function route(): Promise<void> {
  cleanup?.();
  cleanup = undefined;
  const gen = ++generation;
  const [path = '/', qs = ''] = location.hash.replace(/^#/, '').split('?');
  const query = new URLSearchParams(qs);
  const parts = path.split('/').filter(Boolean);
  // The view is in the document from the start, so what a view marks as rendered is on screen.
  const loading = h('p', { class: 'note' }, 'loading…');
  const view = h('div', { class: 'view' }, loading);
  main.replaceChildren(view);
  delete document.body.dataset.view;
  try {
    let done: (() => void) | void = undefined;
    if (parts.length === 0) done = await listView(ctx, view, query);
    else if (parts[0] === 's' && parts[1] && parts.length === 2) done = await subtreeView(ctx, view, parts[1], query);
    else if (parts[0] === 's' && parts[1] && parts[2] === 'r' && parts[3] !== undefined) await roundView(ctx, view, parts[1], Number(parts[3]));
    else if (parts[0] === 's' && parts[1] && parts[2] === 'k' && parts[3] !== undefined) {
      await keyView(ctx, view, parts[1], decodeURIComponent(parts.slice(3).join('/')), query.has('h') ? Number(query.get('h')) : undefined);
    } else if (parts[0] === 'tx' && parts[1]) await txView(ctx, view, parts[1]);
    else if (parts[0] === 'verify') verifyView(view);
    else throw new Error(`no such page: ${path}`);
    if (gen !== generation) return done?.();
    cleanup = done;
    document.body.dataset.view = parts[0] ?? 'list';
  } catch (e) {
    if (gen !== generation) return;
    if (loading.isConnected) loading.remove();
    view.append(errorBox(e));
  }
}

window.addEventListener('hashchange', () => void route());
void route();
