import { inspectOts, verifyChainResponse, verifyProof, verifyStateResponse, walkProof, type ChainResponse, type Proof, type StateResponse } from 'dstp/client';
import { add, badge, h } from '../dom.ts';
import { CHAIN_TAIL, STATE_LINKS, drawProof, linkList } from '../links.ts';

/**
 * Paste a proof, a state answer or a chain (e.g. the JSON the key view downloads), or pick an
 * .ots file: verified in this page with no request to any node.
 */
export function verifyView(root: HTMLElement): void {
  const text = h('textarea', { id: 'paste', rows: 10, spellcheck: 'false', placeholder: 'Paste a chain (GET …/chain/:key, or the explorer download), a state answer (GET …/state/:key) or a bare proof {key, root, leaf, siblings}' });
  const nodeKey = h('input', { id: 'node-key', placeholder: 'node key ed25519:… (default: the one in the pasted chain)', autocomplete: 'off' });
  const origin = h('input', { id: 'origin', placeholder: 'checkpoint origin (default: the one in the pasted chain)', autocomplete: 'off' });
  const file = h('input', { id: 'ots-file', type: 'file', accept: '.ots,application/octet-stream' });
  const out = h('div', { id: 'verify-result' });
  root.replaceChildren(
    h('h1', null, 'Verify offline'),
    h('p', { class: 'note' }, 'Nothing leaves this page: the checks run here, against the keys you trust.'),
    h(
      'form',
      {
        class: 'stack',
        onsubmit: (e: Event) => {
          e.preventDefault();
          void run(text.value, nodeKey.value.trim(), origin.value.trim(), file.files?.[0], out);
        },
      },
      text,
      h('label', null, 'node key ', nodeKey),
      h('label', null, 'origin ', origin),
      h('label', null, '.ots file ', file),
      h('button', { id: 'verify-button' }, 'Verify'),
    ),
    out,
  );
}

type Pasted = Partial<ChainResponse> & { request?: unknown; nodeKey?: string; origin?: string; subtree?: string; siblings?: unknown };

async function run(text: string, nodeKeyIn: string, originIn: string, file: File | undefined, out: HTMLElement): Promise<void> {
  out.replaceChildren();
  let logRoot: string | undefined;
  if (text.trim() !== '') {
    let v: Pasted;
    try {
      v = JSON.parse(text) as Pasted;
    } catch (e) {
      out.append(badge('fail', `not JSON: ${e instanceof Error ? e.message : e}`));
      return;
    }
    if (v && typeof v === 'object' && v.chain) logRoot = await chain(v, nodeKeyIn, originIn, out);
    else if (v && typeof v === 'object' && v.proof) await state(v, out);
    else if (v && typeof v === 'object' && Array.isArray(v.siblings)) bare(v as unknown as Proof, out);
    else out.append(badge('fail', 'not a chain, a state answer or a proof'));
  }
  if (file) await ots(file, logRoot, out);
  out.dataset.done = 'true';
}

async function chain(v: Pasted, nodeKeyIn: string, originIn: string, out: HTMLElement): Promise<string | undefined> {
  const c = v as ChainResponse;
  const nodeKey = nodeKeyIn || v.nodeKey || c.chain.checkpoint?.signer || '';
  const origin = originIn || v.origin || (typeof c.chain.note === 'string' ? c.chain.note.split('\n')[0]! : '');
  const links = linkList([...STATE_LINKS, ...(c.chain.parents?.length ? ['parent'] : []), ...CHAIN_TAIL]);
  out.append(
    h('h2', null, `Chain of "${c.key}" in subtree ${String(c.subtree ?? '?').slice(0, 12)}…`),
    h('p', { class: 'note' }, `Trusting node key ${nodeKey || '(none)'} and origin "${origin}"${nodeKeyIn ? '' : ' — taken from the pasted data: compare them with the ones you trust'}.`),
    links.el,
  );
  if (v.request === undefined) {
    links.fail(new Error('the pasted chain carries no creation request ("request"), so the subtree\'s mode is unknown'));
    return undefined;
  }
  try {
    const r = await verifyChainResponse(c, { key: c.key, subtree: String(v.subtree), request: v.request, nodeKey, origin, onLink: links.onLink });
    links.finish({ ots: ['absent', 'no .ots in the chain'] });
    out.append(h('p', { id: 'verify-outcome', 'data-ok': 'true' }, badge('ok', `verified: value ${JSON.stringify(r.value ?? null)} at height ${r.height}`)), drawProof(c.proof, c.key));
    return r.logRoot;
  } catch (e) {
    links.fail(e);
    out.append(h('p', { id: 'verify-outcome', 'data-ok': 'false' }, badge('fail', 'the chain does not verify')));
    return undefined;
  }
}

async function state(v: Pasted, out: HTMLElement): Promise<void> {
  const s = v as StateResponse;
  const links = linkList(STATE_LINKS);
  out.append(h('h2', null, `State answer for "${s.key}"`), links.el);
  try {
    if (v.request !== undefined || v.subtree === undefined) {
      await verifyStateResponse(s, { key: s.key, ...(v.subtree ? { subtree: v.subtree } : {}), request: v.request, onLink: links.onLink });
      links.finish();
    } else {
      // Without the creation request the mode is unknown: only the proof can be judged.
      verifyProof(s.proof, { key: s.key, root: s.root, ...(s.exists ? { value: s.value! } : {}) });
      links.onLink({ link: 'proof', detail: `proven against root ${s.root}` });
      links.finish({ round: ['skip', 'needs the creation request ("request")'], signatures: ['skip', 'needs the creation request'], subtree: ['skip', 'needs the creation request'] });
    }
    out.append(h('p', { id: 'verify-outcome', 'data-ok': 'true' }, badge('ok', 'verified as far as the data allows')));
  } catch (e) {
    links.fail(e);
    out.append(h('p', { id: 'verify-outcome', 'data-ok': 'false' }, badge('fail', 'does not verify')));
  }
  out.append(drawProof(s.proof, s.key));
}

function bare(p: Proof, out: HTMLElement): void {
  const links = linkList(['proof']);
  out.append(h('h2', null, `Proof for "${p.key}"`), links.el);
  try {
    // A bare proof names no value: a leaf at path(key) proves the value with its hash; an empty
    // slot or another key's leaf proves absence.
    const present = p.leaf !== null && p.leaf?.path === walkProof(p, p.key).path;
    verifyProof(p, { key: p.key, root: p.root, ...(present ? { valueHash: p.leaf!.valueHash } : {}) });
    links.onLink({ link: 'proof', detail: present ? `the value with hash ${p.leaf!.valueHash} is proven against root ${p.root}` : `absence proven against root ${p.root}` });
    out.append(h('p', { id: 'verify-outcome', 'data-ok': 'true' }, badge('ok', 'the proof holds')));
  } catch (e) {
    links.fail(e);
    out.append(h('p', { id: 'verify-outcome', 'data-ok': 'false' }, badge('fail', 'the proof does not hold')));
  }
  out.append(drawProof(p, p.key));
}

async function ots(file: File, logRoot: string | undefined, out: HTMLElement): Promise<void> {
  const box = h('section', { id: 'ots-result' }, h('h2', null, `OpenTimestamps file ${file.name}`));
  out.append(box);
  try {
    const o = inspectOts(new Uint8Array(await file.arrayBuffer()));
    const btc = o.attestations.filter((a) => a.type === 'bitcoin');
    add(
      box,
      h('p', null, 'timestamps digest ', h('code', null, o.fileDigest)),
      logRoot === undefined ? null : o.fileDigest === logRoot ? badge('ok', 'the verified chain\'s log root') : badge('fail', 'not the verified chain\'s log root'),
      h(
        'ul',
        null,
        o.attestations.map((a) => h('li', null, a.type === 'pending' ? `pending at calendar ${a.uri}` : a.type === 'bitcoin' ? `Bitcoin block ${a.height} (merkle root ${a.msg}: compare with that block's header)` : 'unknown attestation')),
      ),
      btc.length ? badge('ok', 'Bitcoin attestation present') : badge('pending', 'pending: no Bitcoin attestation yet'),
    );
  } catch (e) {
    box.append(badge('fail', `not a valid .ots file: ${e instanceof Error ? e.message : e}`));
  }
}
