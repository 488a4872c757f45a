import { describe, expect, test } from 'bun:test';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { DstpError } from '../../src/core/errors.ts';
import { jcs, jcsBytes } from '../../src/core/jcs.ts';
import v from '../vectors/rfc8785.json';

function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt('0x' + hex));
  return view.getFloat64(0);
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof DstpError) return e.code;
    throw e;
  }
  return undefined;
}

describe('RFC 8785 Appendix B: number serialization', () => {
  for (const [bits, want] of v.numbers as [string, string][]) {
    test(`${bits} → ${want}`, () => {
      expect(jcs(fromBits(bits))).toBe(want);
      expect(jcs([fromBits(bits)])).toBe(`[${want}]`);
    });
  }
  for (const bits of v.nonFinite) {
    test(`${bits} (not finite) is refused`, () => {
      expect(codeOf(() => jcs(fromBits(bits)))).toBe('invalid_json');
      expect(codeOf(() => jcs({ n: fromBits(bits) }))).toBe('invalid_json');
    });
  }
});

describe('RFC 8785 documents (cyberphone/json-canonicalization testdata)', () => {
  for (const d of v.documents) {
    test(d.name, () => {
      expect(jcs(JSON.parse(d.input))).toBe(d.output);
      expect(new TextDecoder().decode(jcsBytes(JSON.parse(d.input)))).toBe(d.output);
    });
  }
});

describe('values JSON cannot carry are refused, never dropped or coerced', () => {
  const cases: [string, unknown][] = [
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity in an array', [1, -Infinity]],
    ['undefined', undefined],
    ['undefined property', { a: 1, b: undefined }],
    ['undefined in an array', [undefined]],
    ['function', () => 1],
    ['symbol', Symbol('s')],
    ['bigint', 12n],
    ['lone high surrogate', 'a\uD800b'],
    ['lone low surrogate', '\uDC00'],
    ['lone surrogate in a key', { '\uD83D': 1 }],
    ['Date', new Date(0)],
    ['Map', new Map()],
    ['class instance', new (class X {})()],
  ];
  for (const [name, value] of cases) {
    test(name, () => {
      expect(codeOf(() => jcs(value))).toBe('invalid_json');
    });
  }

  test('a surrogate pair is fine, -0 is written 0, key order is by UTF-16 units', () => {
    expect(jcs({ s: '\uD83D\uDE02' })).toBe('{"s":"\uD83D\uDE02"}');
    expect(jcs(-0)).toBe('0');
    expect(jcs({ b: 1, a: 2, A: 3, '\u00e9': 4 })).toBe('{"A":3,"a":2,"b":1,"\u00e9":4}');
  });

  test('the error says where the value fails, whichever check finds it', () => {
    const cases: [unknown, string, string][] = [
      [{ a: [1, { b: NaN }] }, '$.a[1].b', 'number is not finite'],
      [[0, 'x', ['\uDC00']], '$[2][0]', 'lone UTF-16 surrogate'],
      [{ ok: 1, bad: { '\uD800': true } }, '$.bad', 'object key holds a lone'],
      [{ d: new Date(0) }, '$.d', 'only plain objects'],
    ];
    for (const [value, at, message] of cases) {
      try {
        jcs(value);
        throw new Error('accepted');
      } catch (e) {
        expect(e).toBeInstanceOf(DstpError);
        expect((e as DstpError).details?.at).toBe(at);
        expect((e as DstpError).message).toContain(message);
      }
    }
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = [deep];
    expect(codeOf(() => jcs(deep))).toBe('invalid_json');
    let ok: unknown = 1;
    for (let i = 0; i < 64; i++) ok = { k: ok };
    expect(jcs(ok).length).toBeGreaterThan(64 * 6);
  });

  test('objects with a null prototype are plain JSON objects', () => {
    const o = Object.assign(Object.create(null) as Record<string, unknown>, { z: 1, a: [true, null] });
    expect(jcs(o)).toBe('{"a":[true,null],"z":1}');
  });
});

describe('the quick path for values whose keys are already in order', () => {
  // jcs writes such values with JSON.stringify and sorts only the others through the library:
  // both must give the library's output, byte for byte, whatever the key order.
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sortKeys) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])])) : v;
  const json = fc.jsonValue({ maxDepth: 4, noUnicodeString: false });

  test('any JSON value, keys as generated, gives the library\'s canonical form', () => {
    fc.assert(fc.property(json, (v) => expect(jcs(v)).toBe(canonicalize(v)!)), { numRuns: 2000 });
  });

  test('the same values with their keys inserted in sorted order give it too', () => {
    fc.assert(fc.property(json, (v) => expect(jcs(sortKeys(v))).toBe(canonicalize(v)!)), { numRuns: 2000 });
  });

  test('keys that look like array indexes are ordered as strings, not as numbers', () => {
    // Object.keys lists "2" before "10", RFC 8785 wants "10" first: the value is not taken as sorted.
    expect(jcs({ 2: 'b', 10: 'a' })).toBe('{"10":"a","2":"b"}');
    expect(jcs({ a: { 1: 0, 0: 1 } })).toBe('{"a":{"0":1,"1":0}}');
    expect(jcs({ b: [{ y: 1, x: 2 }], a: -0 })).toBe('{"a":0,"b":[{"x":2,"y":1}]}');
    expect(jcs({ '\u00e9': 1, z: '\u001f"\\' })).toBe('{"z":"\\u001f\\"\\\\","\u00e9":1}');
  });
});
