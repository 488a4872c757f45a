import { describe, expect, test } from 'bun:test';
import { startScheduler } from '../../src/leader/scheduler.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('leader scheduler', () => {
  test('runs passes on the interval and never two at once', async () => {
    let active = 0;
    let maxActive = 0;
    let passes = 0;
    const s = startScheduler({
      intervalMs: 5,
      pass: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(3);
        passes++;
        active--;
      },
    });
    // Waits for the passes rather than timing them: a loaded machine only makes this slower.
    for (let waited = 0; passes <= 3 && waited < 10_000; waited += 5) await sleep(5);
    await s.stop();
    expect(passes).toBeGreaterThan(3);
    expect(maxActive).toBe(1);
  });

  test('a kick runs a pass long before the interval, and a kick during a pass runs one more after it', async () => {
    const starts: number[] = [];
    const s = startScheduler({
      intervalMs: 10_000,
      pass: async () => {
        starts.push(performance.now());
        await sleep(20);
      },
    });
    await sleep(5); // the initial pass is running
    s.kick(); // arrives mid-pass: must cause exactly one follow-up pass
    s.kick();
    await sleep(80);
    await s.stop();
    expect(starts.length).toBe(2);
  });

  test('a steady stream of kicks cannot starve the pass', async () => {
    let passes = 0;
    const s = startScheduler({ intervalMs: 10_000, debounceMs: 5, pass: async () => void passes++ });
    await sleep(5);
    const before = passes;
    const until = performance.now() + 60;
    while (performance.now() < until) {
      s.kick();
      await sleep(1);
    }
    await s.stop();
    expect(passes - before).toBeGreaterThanOrEqual(3);
  });

  test('an error in a pass is reported and the loop goes on', async () => {
    const errors: unknown[] = [];
    let passes = 0;
    const s = startScheduler({
      intervalMs: 5,
      pass: async () => {
        passes++;
        if (passes === 1) throw new Error('boom');
      },
      onError: (e) => errors.push(e),
    });
    await sleep(40);
    await s.stop();
    expect(errors.length).toBe(1);
    expect(passes).toBeGreaterThan(2);
  });
});

describe('leader scheduler: minimum gap between kicked passes', () => {
  test('kicks gather: passes start at least minGapMs apart', async () => {
    const starts: number[] = [];
    const s = startScheduler({ intervalMs: 10_000, minGapMs: 30, pass: async () => void starts.push(performance.now()) });
    const until = performance.now() + 200;
    while (performance.now() < until) {
      s.kick();
      await sleep(1);
    }
    await s.stop();
    expect(starts.length).toBeGreaterThanOrEqual(3);
    expect(starts.length).toBeLessThanOrEqual(8);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(29);
  });

  test('a kick long after the last pass is not delayed by the gap', async () => {
    const starts: number[] = [];
    const s = startScheduler({ intervalMs: 10_000, minGapMs: 30, pass: async () => void starts.push(performance.now()) });
    await sleep(60);
    s.kick();
    // A zero timeout set at the kick fires when the event loop gets there: the pass must not
    // start later than that by anything like the 30 ms gap (both share the loop's own delays).
    const loop = await new Promise<number>((r) => setTimeout(() => r(performance.now()), 0));
    for (let waited = 0; starts.length < 2 && waited < 10_000; waited += 1) await sleep(1);
    await s.stop();
    expect(starts.length).toBe(2);
    expect(starts[1]! - loop).toBeLessThan(15);
  });

  test('busyFactor: after a long pass, kicked passes wait that many times its duration (capped at the interval)', async () => {
    const spans: [number, number][] = [];
    const s = startScheduler({
      intervalMs: 10_000,
      minGapMs: 1,
      busyFactor: 2,
      pass: async () => {
        const t = performance.now();
        await sleep(20);
        spans.push([t, performance.now()]);
      },
    });
    const until = performance.now() + 300;
    while (performance.now() < until) {
      s.kick();
      await sleep(1);
    }
    await s.stop();
    expect(spans.length).toBeGreaterThanOrEqual(3);
    // Each 20 ms pass is followed by at least 2 × its own duration of rest before the next.
    for (let i = 1; i < spans.length; i++) {
      const [prevStart, prevEnd] = spans[i - 1]!;
      expect(spans[i]![0] - prevEnd).toBeGreaterThanOrEqual(2 * (prevEnd - prevStart) - 1);
    }
  });

  test('busyFactor: the wait never exceeds the interval', async () => {
    const spans: [number, number][] = [];
    const s = startScheduler({
      intervalMs: 30,
      busyFactor: 100,
      pass: async () => {
        const t = performance.now();
        await sleep(10);
        spans.push([t, performance.now()]);
      },
    });
    const until = performance.now() + 250;
    while (performance.now() < until) {
      s.kick();
      await sleep(1);
    }
    await s.stop();
    // Without the cap a 10 ms pass would hold the next one off for a whole second; with it, the
    // interval (30 ms) plus whatever the event loop adds. Half the uncapped wait tells them apart
    // even on a loaded machine.
    expect(spans.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0] - spans[i - 1]![1]).toBeLessThan(500);
  });
});
