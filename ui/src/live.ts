import { authHeaders } from './api.js';

/** One change of a commit, as /api/v1/stream sends it (docs/DASHBOARD.md). */
export interface StreamChange {
  ad: number;
  minute: string;
  counts: Record<string, number>;
}
export interface StreamCommit {
  offset: number;
  watermark: string | null;
  changes: StreamChange[];
}

export interface LiveHandlers {
  onCommit(commit: StreamCommit): void;
  /** The server coalesced events this client was too slow for, or the stream restarted: refetch. */
  onResync(): void;
  onState(state: 'connecting' | 'live' | 'off', detail?: string): void;
}

/**
 * Follows /api/v1/stream. EventSource cannot send an Authorization header
 * and the token must not go in the URL, so the stream is read with fetch and
 * parsed here (the text/event-stream format: fields, blank line ends an event).
 * Reconnects after a drop with a growing delay; stop() ends it.
 */
export function followStream(handlers: LiveHandlers): { stop(): void } {
  let stopped = false;
  let controller: AbortController | undefined;
  let delay = 1_000;

  async function once(): Promise<void> {
    controller = new AbortController();
    handlers.onState('connecting');
    const res = await fetch('/api/v1/stream', { headers: authHeaders(), signal: controller.signal });
    if (!res.ok || res.body === null) {
      const message = res.status === 404 ? 'this server has no live stream' : `stream answered ${res.status}`;
      throw Object.assign(new Error(message), {
        permanent: res.status === 404 || res.status === 401 || res.status === 403,
      });
    }
    handlers.onState('live');
    delay = 1_000;
    // Whatever happened while we were away is only in a fresh query.
    handlers.onResync();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  function dispatch(block: string): void {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data += data === '' ? value : `\n${value}`;
    }
    if (event === 'commit') handlers.onCommit(JSON.parse(data) as StreamCommit);
    else if (event === 'resync') handlers.onResync();
  }

  async function run(): Promise<void> {
    while (!stopped) {
      try {
        await once();
      } catch (err) {
        if (stopped) return;
        if ((err as { permanent?: boolean }).permanent === true) {
          handlers.onState('off', (err as Error).message);
          return;
        }
      }
      if (stopped) return;
      handlers.onState('connecting', 'reconnecting');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  }
  void run();
  return {
    stop() {
      stopped = true;
      controller?.abort();
    },
  };
}
