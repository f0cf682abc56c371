import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** Where `npm run build` (vite, ui/vite.config.ts) writes the dashboard: dist/ui, beside dist/src. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

/**
 * The dashboard's policy: everything from this origin, nothing from another
 * host (SPEC 3.5). uPlot sets element styles through the CSSOM, which
 * `style-src 'self'` allows; no inline script or style element exists in the build.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Vite names built assets `name-<hash>.ext` under assets/: their content never changes under that name. */
const HASHED = /^assets\/.+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;
/** Below this a gzip member costs more than it saves. */
const GZIP_MIN_BYTES = 512;
/** The whole built UI is held in memory: a bound so a wrong directory cannot fill the heap. */
const MAX_UI_BYTES = 16 * 1024 * 1024;

interface StaticFile {
  readonly body: Buffer;
  readonly gzip: Buffer | undefined;
  readonly type: string;
  readonly cache: string;
}

/**
 * The dashboard's built files, read once into memory at start (a few hundred
 * KiB): a request can only ever name one of them, so no path from the
 * request reaches the file system and no traversal is possible. Paths that
 * name no file get index.html (the app routes on the client, by hash).
 */
export class StaticFiles {
  private constructor(private readonly files: ReadonlyMap<string, StaticFile>) {}

  /** Loads `dir`; undefined when it holds no index.html (the UI was not built). */
  static async load(dir = DEFAULT_UI_DIR): Promise<StaticFiles | undefined> {
    const names = await listFiles(dir).catch(() => undefined);
    if (names === undefined || !names.includes('index.html')) return undefined;
    const files = new Map<string, StaticFile>();
    let total = 0;
    for (const name of names) {
      const type = CONTENT_TYPES[extension(name)];
      if (type === undefined) continue;
      const body = await readFile(join(dir, name));
      total += body.length;
      if (total > MAX_UI_BYTES) throw new Error(`${dir} holds more than ${MAX_UI_BYTES} bytes of UI files`);
      const compressible = !type.startsWith('image/png') && body.length >= GZIP_MIN_BYTES;
      const gzip = compressible ? gzipSync(body, { level: 9 }) : undefined;
      files.set(name, {
        body,
        gzip: gzip !== undefined && gzip.length < body.length ? gzip : undefined,
        type,
        // index.html names the hashed assets, so it is revalidated every time; they are immutable.
        cache: HASHED.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache',
      });
    }
    return new StaticFiles(files);
  }

  /** Names of the files served (tests, page weight). */
  names(): string[] {
    return [...this.files.keys()];
  }

  /** Answers a GET or HEAD of `url` (its query is ignored). */
  serve(req: IncomingMessage, res: ServerResponse, url: string): void {
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const file = this.files.get(fileName(path)) ?? this.files.get('index.html')!;
    const gzip = acceptsGzip(req.headers['accept-encoding']) ? file.gzip : undefined;
    const body = gzip ?? file.body;
    res.writeHead(200, {
      'content-type': file.type,
      'content-length': body.length,
      'cache-control': file.cache,
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      vary: 'accept-encoding',
      ...(gzip === undefined ? {} : { 'content-encoding': 'gzip' }),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

/** `/assets/x.js` -> `assets/x.js`; `/` -> `index.html`. Only a key into the loaded map, never a path. */
function fileName(path: string): string {
  let name: string;
  try {
    name = decodeURIComponent(path).replace(/^\/+/, '');
  } catch {
    return 'index.html';
  }
  return name === '' ? 'index.html' : name;
}

function extension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot === -1 ? '' : name.slice(dot).toLowerCase();
}

function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    if (coding?.trim().toLowerCase() !== 'gzip') return false;
    const q = params.find((p) => p.trim().startsWith('q='));
    return q === undefined || Number(q.trim().slice(2)) > 0;
  });
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}
