/** A few DOM helpers: the page builds its views with these and no framework. */
export type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

/** Appends children, skipping null/false. */
export function add(el: Node, ...children: Child[]): void {
  append(el, children);
}

function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's content. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A 64-hex hash or a key, shortened for tables; the full text stays in the title and selection. */
export function short(s: string, head = 10): string {
  return s.length > head + 6 ? `${s.slice(0, head)}…${s.slice(-4)}` : s;
}

export function hash(s: string, cls = 'hash'): HTMLElement {
  return h('code', { class: cls, title: s }, s);
}

export type Verdict = 'ok' | 'fail' | 'pending' | 'skip' | 'absent';
const MARK: Record<Verdict, string> = { ok: '✓', fail: '✗', pending: '…', skip: '–', absent: '○' };

/** A verdict badge: the page's own check, never the node's word. */
export function badge(v: Verdict, text: string): HTMLElement {
  return h('span', { class: `badge ${v}`, 'data-verdict': v }, `${MARK[v]} ${text}`);
}

export function link(href: string, ...children: Child[]): HTMLAnchorElement {
  return h('a', { href }, ...children);
}

export function field(name: string, ...value: Child[]): HTMLElement[] {
  return [h('dt', null, name), h('dd', null, ...value)];
}

export function time(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '?';
}

export function json(v: unknown): HTMLElement {
  return h('pre', { class: 'json' }, JSON.stringify(v, null, 2));
}

export function errorBox(e: unknown): HTMLElement {
  const msg = e instanceof Error ? e.message : String(e);
  return h('p', { class: 'error', role: 'alert' }, msg);
}

/** Table inside a horizontally scrolling box, so narrow screens never scroll the whole page. */
export function table(head: string[], rows: Node[], attrs: Attrs = {}): HTMLElement {
  return h('div', { class: 'scroll' }, h('table', attrs, h('thead', null, h('tr', null, head.map((c) => h('th', null, c)))), h('tbody', null, rows)));
}
