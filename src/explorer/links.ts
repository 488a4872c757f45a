import { VerificationError, walkProof, type LinkCheck, type Proof } from 'dstp/client';
import { badge, h, type Verdict } from './dom.ts';
import { layoutProof, type Cell } from './proof-layout.ts';

export const STATE_LINKS = ['proof', 'round', 'signatures', 'subtree'] as const;
export const CHAIN_TAIL = ['global', 'checkpoint', 'log', 'note', 'ots'] as const;

const LABEL: Record<string, string> = {
  proof: 'value → state root',
  round: 'state root → round header',
  signatures: 'round → final under the mode',
  subtree: 'subtree id → signed creation request',
  parent: 'round → parent subtree (nested)',
  global: 'signed round → global tree',
  checkpoint: 'global root → signed checkpoint',
  log: 'checkpoint → checkpoint log',
  note: 'log root → signed note',
  ots: 'log root → Bitcoin (.ots)',
};

/**
 * The verification links of a value as a list: each row turns verified when the SDK, running in
 * this page, reports the link established, or failed with the SDK's reason; rows after a failure
 * stay unchecked.
 */
export function linkList(links: readonly string[]) {
  const rows = new Map<string, { row: HTMLElement; state: HTMLElement; detail: HTMLElement; verdict: Verdict }>();
  const list = h(
    'ol',
    { class: 'links' },
    links.map((l) => {
      const state = h('span', null, badge('pending', 'checking'));
      const detail = h('div', { class: 'detail' });
      const row = h('li', { 'data-link': l, 'data-status': 'pending' }, h('strong', null, l), ' ', h('span', { class: 'label' }, LABEL[l] ?? l), ' ', state, detail);
      rows.set(l, { row, state, detail, verdict: 'pending' });
      return row;
    }),
  );
  const mark = (l: string, v: Verdict, text: string, detail?: string) => {
    const r = rows.get(l);
    if (!r) return;
    r.verdict = v;
    r.row.dataset.status = v;
    r.state.replaceChildren(badge(v, text));
    r.detail.textContent = detail ?? '';
  };
  return {
    el: list,
    onLink: (c: LinkCheck) => mark(c.link, 'ok', 'verified', c.detail),
    /** Marks the failed link (or the first unchecked one for an error without a link) and stops there. */
    fail(e: unknown) {
      const failed = e instanceof VerificationError ? e.link : [...rows].find(([, r]) => r.verdict === 'pending')?.[0];
      const message = e instanceof Error ? e.message : String(e);
      let evidence = '';
      if (e instanceof VerificationError && (e.expected !== undefined || e.got !== undefined)) {
        evidence = `\nexpected: ${JSON.stringify(e.expected)}\ngot: ${JSON.stringify(e.got)}`;
      }
      if (failed !== undefined) mark(failed, 'fail', 'failed', message + evidence);
      this.finish();
    },
    /** Leaves what was not reached as unchecked, with a reason for the known cases. */
    finish(reasons: Record<string, [Verdict, string]> = {}) {
      for (const [l, r] of rows) {
        if (r.verdict !== 'pending') continue;
        const [v, text] = reasons[l] ?? ['skip', 'not checked'];
        mark(l, v, text);
      }
    },
    verdict: (l: string) => rows.get(l)?.verdict,
  };
}

/** The proof drawn leaf → root with its siblings beside the path; each parent recomputed here. */
export function drawProof(proof: Proof, key: string): HTMLElement {
  let layout;
  try {
    layout = layoutProof(walkProof(proof, key), proof.root);
  } catch (e) {
    return h('p', { class: 'error' }, `cannot draw this proof: ${e instanceof Error ? e.message : e}`);
  }
  const cell = (c: Cell) => h('code', { class: `cell ${c.role}`, title: c.hash }, c.role === 'empty' ? 'empty' : `${c.hash.slice(0, 8)}…`);
  return h(
    'figure',
    { class: 'proof', id: 'proof-drawing', 'data-depth': String(layout.leaf.depth) },
    h('div', { class: 'level leaf' }, h('span', { class: 'depth' }, `leaf, depth ${layout.leaf.depth}`), h('code', { class: 'cell path', title: layout.leaf.hash }, layout.leaf.empty ? 'empty slot' : `${layout.leaf.hash.slice(0, 8)}…`)),
    layout.rows.map((r) =>
      h('div', { class: 'level', 'data-depth': String(r.depth) }, h('span', { class: 'depth' }, `depth ${r.depth}`), cell(r.left), h('span', { class: 'op' }, '+'), cell(r.right), h('span', { class: 'op' }, '→'), h('code', { class: 'cell path', title: r.parent }, `${r.parent.slice(0, 8)}…`)),
    ),
    h(
      'figcaption',
      null,
      layout.root.matches ? badge('ok', 'folds to the root ') : badge('fail', 'does not fold to the root '),
      h('code', { title: layout.root.claimed }, `${layout.root.claimed.slice(0, 16)}…`),
      h('div', { class: 'sub' }, `path(key) = ${layout.path}`),
    ),
  );
}
