import type { Mode, SubtreeHead } from 'dstp/client';
import { href, type Ctx } from '../context.ts';
import { h, link, short, table } from '../dom.ts';

const PAGE = 50;

export function modeText(mode: Mode): string {
  if (mode.type === 'multisig') return `multisig ${mode.threshold}-of-${mode.signers.length}`;
  if (mode.type === 'pos') return `pos, ${mode.validators.length} validators`;
  return 'poa';
}

/** Every subtree on the node, a page at a time; heights and roots move live with the node's rounds. */
export async function listView(ctx: Ctx, root: HTMLElement, query: URLSearchParams): Promise<() => void> {
  const after = query.get('after') ?? undefined;
  const page = await ctx.client.listSubtrees({ limit: PAGE, ...(after ? { cursor: after } : {}) });
  const rows = new Map<string, { height: HTMLElement; root: HTMLElement; row: HTMLElement }>();
  const body = page.items.map((s: SubtreeHead) => {
    const height = h('td', { class: 'num', 'data-col': 'height' }, s.height);
    const rootCell = h('td', { 'data-col': 'root' }, h('code', { title: s.root }, short(s.root)));
    const row = h(
      'tr',
      { 'data-subtree': s.id },
      h('td', null, link(href.subtree(s.id), s.name), h('div', { class: 'sub' }, h('code', { title: s.id }, short(s.id)))),
      h('td', null, s.program.startsWith('js:') ? h('code', { title: s.program }, short(s.program, 13)) : s.program),
      h('td', null, modeText(s.mode)),
      height,
      rootCell,
      h('td', null, h('span', { class: `status ${s.status}` }, s.status), s.origin ? h('div', { class: 'sub' }, 'followed') : null),
    );
    rows.set(s.id, { height, root: rootCell, row });
    return row;
  });
  root.replaceChildren(
    h('h1', null, 'Subtrees'),
    page.items.length === 0 ? h('p', null, 'This node holds no subtrees yet.') : table(['subtree', 'program', 'mode', 'height', 'root', 'status'], body, { id: 'subtrees' }),
    h(
      'nav',
      { class: 'pager' },
      after ? link(href.list(), '⇤ first page') : null,
      page.next !== undefined ? link(href.list(String(page.next)), 'next page →') : null,
    ),
  );
  document.body.dataset.listRendered = String(page.items.length);
  performance.mark('dstp:list-rendered');

  return ctx.feed.subscribe((ev) => {
    const r = rows.get(ev.subtree);
    if (!r || ev.height <= Number(r.height.textContent)) return;
    r.height.textContent = String(ev.height);
    r.root.replaceChildren(h('code', { title: ev.header.stateRoot }, short(ev.header.stateRoot)));
    r.row.classList.remove('flash');
    void r.row.offsetWidth; // restart the highlight
    r.row.classList.add('flash');
  });
}
