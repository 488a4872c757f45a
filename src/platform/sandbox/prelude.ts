/**
 * The code that runs in every fresh QuickJS context before the user's program (SPEC §7.1). It is
 * a function of two host functions, `charge(n)` (gas) and `readKey(key)` (state, as JSON text),
 * which stay in its closure: user code never sees them. It
 *  1. removes what is not deterministic or not metered: Date (absent from the context's
 *     intrinsics), Math.random, eval and every Function constructor, BigInt (its operators run
 *     unmetered: one multiplication of two 500,000-bit numbers takes ~0.6 s), Promise (programs
 *     are synchronous), WeakRef/FinalizationRegistry/SharedArrayBuffer/Atomics/typed arrays/Proxy
 *     (absent from the intrinsics);
 *  2. wraps every builtin whose work grows with its input, so each call is charged in
 *     proportion to that input before it runs (array and string receivers are measured after
 *     converting them the way the builtin would; array methods refuse non-array receivers, whose
 *     `length` getter could lie);
 *  3. freezes the globals and their prototypes;
 *  4. returns `invoke(method, argsJson, withState)`, which parses the arguments, calls the
 *     program's method and serializes the result to JSON, all inside the sandbox and metered.
 *
 * Prices (per unit of input): ELEM per array element, CHAR per UTF-16 code unit, KEY per object
 * key. The numbers are fixed by the engine string (engines.ts).
 */
export const PRELUDE = String.raw`(function (charge, readKey, ELEM, CHAR, KEY) {
  'use strict';
  const G = globalThis;
  const O = Object, A = Array, S = String, J = JSON, R = Reflect;
  const apply = R.apply, defineProperty = O.defineProperty, getOwnPropertyDescriptor = O.getOwnPropertyDescriptor;
  const ownKeys = R.ownKeys, getPrototypeOf = O.getPrototypeOf, freeze = O.freeze, isArray = A.isArray;
  const jsonParse = J.parse, jsonStringify = J.stringify, hasOwn = O.hasOwn;
  const TypeErr = TypeError;
  const log2 = Math.log2, ceil = Math.ceil;
  const len = (x) => (typeof x === 'string' ? x.length : 0);

  // 1. Nothing nondeterministic, nothing that compiles code at run time, nothing unmetered.
  const refuse = function () { throw new TypeErr('not available in programs'); };
  const IE = G.InternalError;
  for (const name of ['eval', 'InternalError', 'BigInt', 'Promise', 'Date', 'WeakRef', 'FinalizationRegistry', 'SharedArrayBuffer', 'Atomics', 'Proxy']) delete G[name];
  delete Math.random;
  for (const f of [function () {}, function* () {}, async function () {}, async function* () {}]) {
    defineProperty(getPrototypeOf(f), 'constructor', { value: refuse, writable: false, configurable: false });
  }
  G.Function = refuse;

  // 2. Metered builtins.
  const arr = (self, name) => {
    if (!isArray(self)) throw new TypeErr('Array.prototype.' + name + ' needs an array in programs');
    return self.length;
  };
  const str = (self) => S(self);
  const wrap = (obj, name, cost, viaString) => {
    const orig = obj[name];
    const f = {
      [name](...args) {
        const self = viaString ? str(this) : this;
        charge(cost(self, args, name));
        return apply(orig, self, args);
      },
    }[name];
    defineProperty(obj, name, { value: f, writable: true, configurable: true, enumerable: false });
  };
  const sortCost = (n) => (n < 2 ? n : ceil(n * log2(n)));
  const AP = A.prototype;
  for (const m of ['includes', 'indexOf', 'lastIndexOf', 'reverse', 'fill', 'copyWithin', 'toReversed', 'with',
    'forEach', 'map', 'filter', 'reduce', 'reduceRight', 'some', 'every', 'find', 'findIndex', 'findLast', 'findLastIndex', 'shift', 'unshift']) {
    wrap(AP, m, (self, args, name) => ELEM * (arr(self, name) + args.length));
  }
  for (const m of ['slice', 'splice', 'toSpliced']) {
    wrap(AP, m, (self, args, name) => ELEM * (arr(self, name) + args.length));
  }
  wrap(AP, 'push', (self, args, name) => { arr(self, name); return ELEM * (1 + args.length); });
  for (const m of ['join', 'toString', 'toLocaleString']) {
    // Charged per element and separator before, and for the result's length after the call.
    const orig = AP[m];
    const f = { [m](...args) {
      charge(ELEM * (arr(this, m) + 1) + CHAR * len(args[0]) * this.length);
      const out = apply(orig, this, args);
      charge(CHAR * out.length);
      return out;
    } }[m];
    defineProperty(AP, m, { value: f, writable: true, configurable: true, enumerable: false });
  }
  // The default comparison converts both sides to strings: twice the price of a plain walk.
  for (const m of ['sort', 'toSorted']) wrap(AP, m, (self, args, name) => 2 * ELEM * sortCost(arr(self, name)));
  for (const m of ['flat', 'flatMap']) {
    const orig = AP[m];
    const f = { [m](...args) {
      charge(ELEM * arr(this, m));
      const out = apply(orig, this, args);
      charge(ELEM * out.length);
      return out;
    } }[m];
    defineProperty(AP, m, { value: f, writable: true, configurable: true, enumerable: false });
  }
  {
    const orig = AP.concat;
    defineProperty(AP, 'concat', { value: { concat(...args) {
      let n = arr(this, 'concat');
      for (const a of args) n += isArray(a) ? a.length : 1;
      charge(ELEM * (n + 1));
      return apply(orig, this, args);
    } }.concat, writable: true, configurable: true });
  }
  for (const m of ['from', 'of']) {
    const orig = A[m];
    defineProperty(A, m, { value: { [m](...args) {
      const src = args[0];
      const n = m === 'of' ? args.length : isArray(src) || typeof src === 'string' ? src.length : 0;
      charge(ELEM * (n + 1));
      const out = apply(orig, this, args);
      charge(ELEM * out.length);
      return out;
    } }[m], writable: true, configurable: true });
  }

  const SP = S.prototype;
  const withArgs = (self, args) => { let n = self.length; for (const a of args) n += len(a); return n; };
  for (const m of ['indexOf', 'lastIndexOf', 'includes', 'startsWith', 'endsWith', 'localeCompare', 'search', 'match', 'matchAll']) {
    // Naive search is O(n·m) in the worst case: charge n·(1 + m/16), m the pattern's length.
    wrap(SP, m, (self, args) => CHAR * (self.length + 1) * (1 + ceil(len(args[0]) / 16)), true);
  }
  for (const m of ['slice', 'substring', 'substr', 'trim', 'trimStart', 'trimEnd', 'toLowerCase', 'toUpperCase', 'toLocaleLowerCase', 'toLocaleUpperCase',
    'normalize', 'concat', 'isWellFormed', 'toWellFormed']) {
    wrap(SP, m, (self, args) => CHAR * (withArgs(self, args) + 1), true);
  }
  for (const m of ['split', 'replace', 'replaceAll']) {
    const orig = SP[m];
    defineProperty(SP, m, { value: { [m](...args) {
      const self = str(this);
      charge(2 * CHAR * (self.length + 1) * (1 + ceil(len(args[0]) / 16)) + CHAR * len(args[1]));
      const out = apply(orig, self, args);
      charge(typeof out === 'string' ? 2 * CHAR * out.length : 2 * ELEM * out.length);
      return out;
    } }[m], writable: true, configurable: true });
  }
  for (const m of ['repeat', 'padStart', 'padEnd']) {
    const orig = SP[m];
    defineProperty(SP, m, { value: { [m](...args) {
      const self = str(this);
      // The output's length is known before the work: charge it first.
      const n = m === 'repeat' ? self.length * (+args[0] || 0) : +args[0] || 0;
      charge(CHAR * (self.length + (n > 0 ? n : 0) + 1));
      return apply(orig, self, args);
    } }[m], writable: true, configurable: true });
  }
  for (const m of ['fromCharCode', 'fromCodePoint', 'raw']) {
    const orig = S[m];
    defineProperty(S, m, { value: { [m](...args) {
      charge(CHAR * (args.length + 1));
      const out = apply(orig, this, args);
      charge(CHAR * out.length);
      return out;
    } }[m], writable: true, configurable: true });
  }
  {
    const FP = Function.prototype;
    const origApply = FP.apply;
    defineProperty(FP, 'apply', { value: { apply(thisArg, list) {
      charge(ELEM * (isArray(list) ? list.length + 1 : 1));
      return apply(origApply, this, [thisArg, list]);
    } }.apply, writable: true, configurable: true });
    const origBind = FP.bind;
    defineProperty(FP, 'bind', { value: { bind(...args) {
      charge(ELEM * (args.length + 1));
      return apply(origBind, this, args);
    } }.bind, writable: true, configurable: true });
  }
  for (const m of ['apply', 'construct']) wrap(R, m, (self, args) => ELEM * (isArray(args[1]) ? args[1].length + 1 : 1));
  const afterCount = (obj, m, unit) => {
    const orig = obj[m];
    defineProperty(obj, m, { value: { [m](...args) {
      charge(unit);
      const out = apply(orig, this, args);
      charge(unit * (out.length + 1));
      return out;
    } }[m], writable: true, configurable: true });
  };
  for (const m of ['keys', 'values', 'entries', 'getOwnPropertyNames', 'getOwnPropertySymbols']) afterCount(O, m, KEY);
  afterCount(R, 'ownKeys', KEY);
  for (const m of ['assign', 'fromEntries', 'freeze', 'seal', 'preventExtensions', 'isFrozen', 'isSealed', 'getOwnPropertyDescriptors', 'defineProperties', 'create', 'groupBy']) {
    wrap(O, m, (self, args) => {
      let n = 1;
      for (const a of args) if (a !== null && typeof a === 'object') n += isArray(a) ? a.length : ownKeys(a).length;
      return KEY * n;
    });
  }
  {
    const origParse = jsonParse;
    defineProperty(J, 'parse', { value: { parse(text, reviver) {
      const s = S(text);
      // Parsing builds values: four times the price of reading the text.
      charge(4 * CHAR * (s.length + 1));
      return apply(origParse, J, [s, reviver]);
    } }.parse, writable: true, configurable: true });
    defineProperty(J, 'stringify', { value: { stringify(v, replacer, space) {
      // The output's size is its work; it is bounded by memory, and charged as soon as it exists.
      charge(CHAR);
      const out = apply(jsonStringify, J, [v, replacer, space]);
      if (typeof out === 'string') charge(3 * CHAR * out.length);
      return out;
    } }.stringify, writable: true, configurable: true });
  }
  const MS = { Map: G.Map, Set: G.Set };
  for (const k of ['Map', 'Set']) {
    const Base = MS[k];
    const Metered = { [k]: class extends Base {
      constructor(it) {
        charge(ELEM * (isArray(it) ? it.length + 1 : 1));
        super(it);
      }
    } }[k];
    defineProperty(Metered.prototype, 'constructor', { value: Metered, writable: true, configurable: true });
    G[k] = Metered;
  }
  for (const k of ['Map', 'Set']) {
    const P = getPrototypeOf(G[k].prototype);
    for (const m of ['forEach', 'keys', 'values', 'entries']) {
      if (typeof P[m] === 'function') wrap(P, m, (self) => ELEM * (self.size + 1));
    }
    for (const m of ['union', 'intersection', 'difference', 'symmetricDifference', 'isSubsetOf', 'isSupersetOf', 'isDisjointFrom']) {
      if (typeof P[m] === 'function') wrap(P, m, (self, args) => ELEM * (self.size + (args[0] && typeof args[0].size === 'number' ? args[0].size : 0) + 1));
    }
  }
  {
    const RP = RegExp.prototype;
    for (const m of ['exec', 'test']) wrap(RP, m, (self, args) => CHAR * (S(args[0]).length + 1));
    for (const sym of [Symbol.match, Symbol.matchAll, Symbol.replace, Symbol.search, Symbol.split]) {
      const orig = RP[sym];
      defineProperty(RP, sym, { value: function (s, ...rest) {
        const t = S(s);
        charge(CHAR * (t.length + 1) + CHAR * len(rest[0]));
        return apply(orig, this, [t, ...rest]);
      }, writable: true, configurable: true });
    }
  }
  for (const m of ['encodeURI', 'encodeURIComponent', 'decodeURI', 'decodeURIComponent', 'escape', 'unescape', 'parseInt', 'parseFloat']) {
    const orig = G[m];
    G[m] = { [m](...args) {
      const s = S(args[0]);
      charge(CHAR * (s.length + 1) * 4);
      return apply(orig, undefined, [s, ...args.slice(1)]);
    } }[m];
  }
  {
    const NP = Number.prototype;
    for (const m of ['toString', 'toFixed', 'toPrecision', 'toExponential']) wrap(NP, m, () => CHAR * 128);
  }

  // 3. Freeze the globals: globalThis, every global object and function, their prototypes, and
  // Function.prototype and Object.prototype. (Plain loops and index reads only: the wrapped
  // builtins would charge the prelude's own work.) The context dies with the call, so nothing a
  // program changes elsewhere outlives it.
  const names = ownKeys(G);
  freeze(G);
  for (let i = 0; i < names.length; i++) {
    const v = G[names[i]];
    if ((typeof v !== 'object' && typeof v !== 'function') || v === null) continue;
    freeze(v);
    const p = v.prototype;
    if ((typeof p === 'object' || typeof p === 'function') && p !== null) freeze(p);
  }
  freeze(getPrototypeOf(refuse));
  freeze(getPrototypeOf(getPrototypeOf(refuse)));

  // 4. The one way in: JSON arguments in, JSON text out.
  const toState = () => freeze({
    get(key) {
      if (typeof key !== 'string') throw new TypeErr('state.get needs a string key');
      const text = readKey(key);
      return text === undefined ? null : jsonParse(text);
    },
  });
  const NoMethod = 'no such method';
  // "Name: message" from data properties only (no getter runs); "!oom" for QuickJS's own
  // allocation failure.
  const dataProp = (o, k) => {
    for (let p = o; p !== null; p = getPrototypeOf(p)) {
      const d = getOwnPropertyDescriptor(p, k);
      if (d !== undefined) return 'value' in d && typeof d.value === 'string' ? d.value : '';
    }
    return '';
  };
  const classify = function (e) {
    if (e === null || (typeof e !== 'object' && typeof e !== 'function')) return 'thrown ' + (e === null ? 'null' : typeof e);
    const message = dataProp(e, 'message');
    if (e instanceof IE && message === 'out of memory') return '!oom';
    return (dataProp(e, 'name') + ': ' + message).slice(0, 200);
  };
  return [function invoke(program, method, argsJson, withState) {
    const args = jsonParse(argsJson);
    if (withState) args.push(toState());
    if (program === null || typeof program !== 'object') throw new TypeErr('the default export must be an object');
    const f = program[method];
    if (typeof f !== 'function') return NoMethod;
    const out = apply(f, program, args);
    charge(CHAR);
    const text = jsonStringify(out === undefined ? null : out);
    if (typeof text !== 'string') throw new TypeErr('the result is not JSON');
    charge(CHAR * text.length);
    return text;
  }, classify];
})`;
