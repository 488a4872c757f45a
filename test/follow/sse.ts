import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** A real SSE client for tests: reads a text/event-stream with eventsource-parser until closed. */
export interface SseReader {
  status: number;
  contentType: string;
  events: EventSourceMessage[];
  comments: string[];
  /** Resolves when at least `n` events arrived (rejects after `timeoutMs`). */
  waitEvents(n: number, timeoutMs?: number): Promise<EventSourceMessage[]>;
  waitComments(n: number, timeoutMs?: number): Promise<string[]>;
  close(): void;
  body: string;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const ac = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ac.signal });
  const events: EventSourceMessage[] = [];
  const comments: string[] = [];
  let body = '';
  const parser = createParser({ onEvent: (e) => events.push(e), onComment: (c) => comments.push(c) });
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream') && res.body) {
    void (async () => {
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
      } catch {
        // aborted by close()
      }
    })();
  } else body = await res.text();
  const until = async <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; have ${events.length} events, ${comments.length} comments`);
      await Bun.sleep(10);
    }
  };
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    events,
    comments,
    body,
    waitEvents: (n, t = 10_000) => until(() => (events.length >= n ? events.slice() : undefined), t, `${n} events`),
    waitComments: (n, t = 10_000) => until(() => (comments.length >= n ? comments.slice() : undefined), t, `${n} comments`),
    close: () => ac.abort(),
  };
}
