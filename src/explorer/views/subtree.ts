import { inspectRound, verifySubtreeRequest, type Mode, type RoundResponse, type SubtreeHead } from 'dstp/client';
import { href, type Ctx } from '../context.ts';
import { badge, errorBox, field, fill, h, hash, json, link, short, table, time } from '../dom.ts';
import { modeText } from './list.ts';

const ROUNDS = 20;
const ROOT_ID = '0'.repeat(64);

/** A subtree: its head and creation request (checked here), follow status, proposals and halts, and its rounds, live. */
export async function subtreeView(ctx: Ctx, root: HTMLElement, id: string, query: URLSearchParams): Promise<() => void> {
  const before = query.get('before');
  const [info, head, rounds] = await Promise.all([
    ctx.info(),
    ctx.head(id),
    ctx.client.listRounds(id, { order: 'desc', limit: ROUNDS, ...(before !== null ? { cursor: before } : {}) }),
  ]);
  const heightEl = h('span', { id: 'head-height' }, head.height);
  const rootEl = hash(head.root);
  const tbody = h('tbody', null, rounds.items.map((r) => roundRow(id, r, head.mode)));

  fill(
    root,
    h('h1', null, head.name, ' ', h('span', { class: `status ${head.status}` }, head.status)),
    h(
      'dl',
      { class: 'fields' },
      field('id', hash(id)),
      field('creation', creationBadge(head, id)),
      field('owner', hash(head.owner)),
      field('parent', head.parent === ROOT_ID ? 'top level' : link(href.subtree(head.parent), h('code', null, short(head.parent)))),
      field('program', h('code', null, head.program)),
      field('mode', modeDetails(head.mode)),
      field('height', heightEl),
      field('state root', rootEl),
      head.config !== undefined ? field('config', h('code', null, JSON.stringify(head.config))) : null,
    ),
    keyForm(id, head.height),
    head.origin ? followSection(ctx, id) : null,
    head.status === 'halted' && head.mode.type === 'multisig' ? haltSection(ctx, id) : null,
    // Proposals wait for signatures from outside the node: multisig, pos, and poa with another authority.
    head.mode.type !== 'poa' || head.mode.authority !== info.publicKey ? proposalsSection(ctx, id) : null,
    h('h2', null, 'Rounds'),
    h('p', { class: 'note' }, 'Hashes recomputed and signatures checked in this page; finality judged under the mode of the creation request.'),
    h('div', { class: 'scroll' }, h('table', { id: 'rounds' }, h('thead', null, h('tr', null, ['height', 'hash', 'txs', 'signatures', 'proposer', 'time'].map((c) => h('th', null, c)))), tbody)),
    h(
      'nav',
      { class: 'pager' },
      before !== null ? link(href.subtree(id), '⇤ newest') : null,
      rounds.next !== undefined ? link(href.subtree(id, Number(rounds.next)), 'older →') : null,
    ),
  );

  // Live: only the newest page grows; older pages stay as they were.
  return ctx.feed.subscribe((ev) => {
    if (ev.subtree !== id || ev.height <= Number(heightEl.textContent)) return;
    heightEl.textContent = String(ev.height);
    rootEl.textContent = ev.header.stateRoot;
    if (before === null) {
      const row = roundRow(id, ev, head.mode);
      row.classList.add('flash');
      tbody.prepend(row);
    }
  });
}

function creationBadge(head: SubtreeHead, id: string): HTMLElement {
  if (head.request === undefined) return badge('skip', 'the node sent no creation request');
  try {
    verifySubtreeRequest(head.request, id);
    return badge('ok', 'id = objectId(parent, owner, name); signed by the owner and as its mode requires');
  } catch (e) {
    return badge('fail', e instanceof Error ? e.message : String(e));
  }
}

function modeDetails(mode: Mode): HTMLElement {
  if (mode.type === 'poa') return h('span', null, 'poa, authority ', hash(mode.authority));
  if (mode.type === 'multisig') {
    return h('div', null, `${modeText(mode)}, proposals expire after ${mode.proposalTimeoutMs} ms`, h('ul', { class: 'keys' }, mode.signers.map((s) => h('li', null, hash(s)))));
  }
  return h('div', null, `pos, epoch ${mode.epochRounds} rounds`, h('ul', { class: 'keys' }, mode.validators.map((v) => h('li', null, hash(v.key), ` stake ${v.stake}`))));
}

function roundRow(id: string, r: RoundResponse, mode: Mode): HTMLElement {
  let check;
  try {
    check = inspectRound(r, mode);
  } catch (e) {
    return h('tr', { 'data-height': String(r.header?.height) }, h('td', { colspan: 6 }, badge('fail', `malformed round: ${e instanceof Error ? e.message : e}`)));
  }
  const valid = check.signatures.filter((s) => s.valid).length;
  return h(
    'tr',
    { 'data-height': String(check.header.height) },
    h('td', { class: 'num' }, link(href.round(id, check.header.height), check.header.height)),
    h('td', null, h('code', { title: check.hash }, short(check.hash)), ' ', check.hashMatches === false ? badge('fail', 'node reports another hash') : null),
    h('td', { class: 'num' }, check.header.txCount),
    h(
      'td',
      null,
      finality(check.final, check.header.height, `${valid}/${check.signatures.length} valid`),
      h('div', { class: 'sub' }, check.signatures.map((s) => h('code', { title: s.signer, class: s.valid ? '' : 'bad' }, short(s.signer.split(':')[1] ?? s.signer, 8), ' '))),
    ),
    h('td', null, h('code', { title: check.header.proposer }, short(check.header.proposer.split(':')[1] ?? '', 8))),
    h('td', null, time(check.header.time)),
  );
}

/**
 * A round's finality as this page judged it. The genesis round is final with the creation
 * request (SPEC §5), which the page checks on its own line, whatever signatures it carries.
 */
export function finality(final: boolean | undefined, height: number, detail: string): HTMLElement {
  if (final) return badge('ok', `final, ${detail}`);
  if (height === 0) return badge('skip', `genesis: final with the creation request; ${detail}`);
  return badge('fail', `not final under the creation mode: ${detail}`);
}

function keyForm(id: string, height: number): HTMLElement {
  const key = h('input', { name: 'key', placeholder: 'state key, e.g. balance/ed25519:… or kv/name', required: true, autocomplete: 'off' });
  const at = h('input', { name: 'height', class: 'height', type: 'number', min: 0, max: height, placeholder: `height ≤ ${height}` });
  return h(
    'form',
    {
      class: 'inline',
      id: 'key-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        location.hash = href.key(id, key.value, at.value === '' ? undefined : Number(at.value));
      },
    },
    key,
    at,
    h('button', null, 'Prove'),
  );
}

function section(title: string, id: string, load: (el: HTMLElement) => Promise<void>): HTMLElement {
  const body = h('div', null, h('p', { class: 'note' }, 'loading…'));
  load(body).catch((e) => body.replaceChildren(errorBox(e)));
  return h('section', { id }, h('h2', null, title), body);
}

function followSection(ctx: Ctx, id: string): HTMLElement {
  return section('Followed from another node', 'follow', async (el) => {
    const f = await ctx.client.getFollow(id);
    el.replaceChildren(
      h(
        'dl',
        { class: 'fields' },
        field('origin', h('code', null, f.origin)),
        field('status', h('span', { class: `status ${f.status}`, 'data-follow-status': f.status }, f.status)),
        field('verification', f.verify === 'full' ? 'full: every round re-executed here' : 'headers: links and finality checked here'),
        field('verified height', `${f.height} (origin at ${f.originHeight}, verified from ${f.verifiedFrom})`),
        field('origin key', hash(f.originKey)),
        f.halt ? field('halt', `${f.halt.code}: ${f.halt.detail}`) : null,
      ),
    );
  });
}

function haltSection(ctx: Ctx, id: string): HTMLElement {
  return section('Halted', 'halt', async (el) => {
    const r = await ctx.client.getResume(id);
    fill(
      el,
      h('p', null, `Rounds stop until ${r.threshold} signers sign this resume (${r.signatures.length} so far).`),
      r.resume.evidence ? h('p', null, 'Halted by equivocation evidence ', hash(r.resume.evidence)) : null,
      json(r.resume),
    );
  });
}

function proposalsSection(ctx: Ctx, id: string): HTMLElement {
  return section('Proposals', 'proposals', async (el) => {
    const page = await ctx.client.listProposals(id, { limit: 20 });
    if (page.items.length === 0) return el.replaceChildren(h('p', { class: 'note' }, 'No proposals.'));
    el.replaceChildren(
      table(
        ['height', 'hash', 'status', 'signatures', 'proposed'],
        page.items.map((p) =>
          h(
            'tr',
            { 'data-proposal': p.hash },
            h('td', { class: 'num' }, p.height),
            h('td', null, h('code', { title: p.hash }, short(p.hash))),
            h('td', null, h('span', { class: `status ${p.status}` }, p.status), p.certificate ? h('div', { class: 'sub' }, 'expiry certificate') : null),
            h('td', null, `${p.signatures.length} (${p.signatures.map((s) => short(s.signer.split(':')[1] ?? '', 6)).join(', ')})`),
            h('td', null, time(p.createdAt)),
          ),
        ),
      ),
    );
  });
}
