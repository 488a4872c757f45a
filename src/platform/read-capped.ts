/** How reading a whole byte stream ended: its bytes, or why it stopped early. */
export type CappedRead<Stop extends string> =
  | { kind: 'ok'; bytes: Uint8Array }
  | { kind: 'too_large' }
  | { [K in Stop]: { kind: K } }[Stop]
  | { kind: 'aborted'; error: string };

/**
 * Reads a byte stream whole, up to `limit` bytes, for request bodies and peers' answers alike:
 * past the limit, or when `check` (shown each chunk as it arrives) names a reason, the read
 * stops and the stream is cancelled, so a hostile sender never makes us hold more than `limit`.
 */
export async function readCapped<Stop extends string = never>(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  check?: (chunk: Uint8Array) => Stop | null,
): Promise<CappedRead<Stop>> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const stop = (out: CappedRead<Stop>): CappedRead<Stop> => {
    reader.cancel().catch(() => {});
    return out;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) return stop({ kind: 'too_large' });
      const reason = check?.(value) ?? null;
      if (reason !== null) return stop({ kind: reason } as CappedRead<Stop>);
      chunks.push(value);
    }
  } catch (err) {
    return { kind: 'aborted', error: err instanceof Error ? err.message : String(err) };
  }
  if (chunks.length === 1) return { kind: 'ok', bytes: chunks[0]! };
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const ch of chunks) {
    bytes.set(ch, at);
    at += ch.byteLength;
  }
  return { kind: 'ok', bytes };
}
