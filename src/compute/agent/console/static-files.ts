// noVNC's pages and scripts for the console proxy, served from one directory (Debian's novnc
// package: /usr/share/novnc). A request path is decoded and checked before it names a file: no
// '..' or '.' segment, no backslash or NUL, so it cannot leave the directory. Symlinks inside the
// directory are the package's own (root-owned) and are followed.
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';

export const NOVNC_DIR = '/usr/share/novnc';
/** What `/console/` alone shows. */
const INDEX = 'vnc_lite.html';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.ogg': 'audio/ogg',
  '.mp3': 'audio/mpeg',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
};

/**
 * The file under `root` that `relative` (the URL path after the mount point, still URL-encoded)
 * names, or null when it is not a safe name. Pure: touches no file.
 */
export function safeStaticPath(root: string, relative: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return null;
  }
  if (decoded === '') decoded = INDEX;
  if (decoded.includes('\0') || decoded.includes('\\') || decoded.startsWith('/')) return null;
  const segments = decoded.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return null;
  return join(root, ...segments);
}

/** Answers a GET or HEAD for `relative` from `root`: 200 with the file, or 404/405. */
export function serveStatic(
  root: string,
  relative: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const fail = (status: number, text: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    fail(405, 'only GET and HEAD');
    return;
  }
  const file = safeStaticPath(root, relative);
  const st = file === null ? undefined : statSync(file, { throwIfNoEntry: false });
  if (file === null || !st?.isFile()) {
    fail(404, 'not found');
    return;
  }
  res.writeHead(200, {
    'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': st.size,
    'cache-control': 'public, max-age=3600',
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}
