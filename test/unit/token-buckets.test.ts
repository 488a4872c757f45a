import { expect, test } from 'bun:test';
import { TokenBuckets } from '../../src/api/token-buckets.ts';

test('a bucket grants its burst, then the rate; the wait it names is when tokens are back', () => {
  let now = 0;
  const b = new TokenBuckets(10, 20, () => now);
  for (let i = 0; i < 20; i++) expect(b.take('a')).toBe(0);
  expect(b.take('a')).toBe(1); // a token is 0.1 s away: Retry-After rounds up to 1 s
  now += 100;
  expect(b.take('a')).toBe(0);
  expect(b.take('a')).toBe(1);
  now += 10_000; // refills to the burst, never beyond it
  for (let i = 0; i < 20; i++) expect(b.take('a')).toBe(0);
  expect(b.take('a')).toBeGreaterThan(0);
});

test('keys are independent; a refused take spends nothing', () => {
  let now = 0;
  const b = new TokenBuckets(1, 2, () => now);
  expect([b.take('x'), b.take('x'), b.take('x')]).toEqual([0, 0, 1]);
  expect(b.take('y')).toBe(0);
  now += 1000;
  expect(b.take('x')).toBe(0);
  expect(b.take('x', 3)).toBe(3); // three tokens at one a second
});

test('memory is bounded: past maxKeys the least recently used key is forgotten (and comes back full)', () => {
  const now = 0;
  const b = new TokenBuckets(1, 1, () => now, 2);
  expect(b.take('a')).toBe(0);
  expect(b.take('b')).toBe(0);
  expect(b.take('a')).toBe(1); // a is now the most recent
  expect(b.take('c')).toBe(0); // evicts b
  expect(b.take('a')).toBe(1); // a was kept
  expect(b.take('b')).toBe(0); // b was forgotten: full again
});
