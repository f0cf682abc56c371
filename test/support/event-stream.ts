/**
 * Reads an event stream's text (GET /api/v1/stream) until `done` says it
 * holds what is awaited, the stream ends, or `ms` pass; then lets it go.
 */
export async function readEventStream(
  res: Response,
  done: (text: string) => boolean,
  ms = 5_000,
): Promise<string> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  const deadline = setTimeout(() => void reader.cancel(), ms);
  try {
    while (!done(text)) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      text += value;
    }
  } finally {
    clearTimeout(deadline);
    await reader.cancel().catch(() => undefined);
  }
  return text;
}
