/**
 * Security headers of every answer of the query API, pure. The dashboard shows data that
 * anyone able to produce to Kafka wrote (ids, diagnostic codes, alert messages), so besides
 * setting it as text, the page runs under a Content-Security-Policy that allows no script
 * but the page's own files: an injected `<img onerror>` or `<script>` would not run even if
 * a value reached the DOM as HTML. The page may not be framed (clickjacking), leaks no
 * referrer, and browsers may not sniff a JSON answer into HTML.
 */
import { createHash } from 'node:crypto';

/** The style of the server-rendered pages (/docs, the placeholder), allowed by its hash. */
export const PAGE_STYLE =
  'body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}';

const PAGE_STYLE_HASH = `'sha256-${createHash('sha256').update(PAGE_STYLE).digest('base64')}'`;

/** Origins (https) of map tiles the dashboard may load (`?tiles=…`, docs/dashboards.md). */
export interface HeaderOptions {
  tileOrigins: readonly string[];
}

function policy(directives: Record<string, string>): string {
  return Object.entries(directives)
    .map(([name, value]) => `${name} ${value}`)
    .join('; ');
}

const COMMON: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
};

/** Headers of the dashboard, its static files and the API's answers. */
export function securityHeaders(options: HeaderOptions): Record<string, string> {
  return {
    ...COMMON,
    'content-security-policy': policy({
      'default-src': "'self'",
      'script-src': "'self'",
      'style-src': "'self'",
      'img-src': ["'self'", 'data:', ...options.tileOrigins].join(' '),
      'connect-src': "'self'",
      'object-src': "'none'",
      'base-uri': "'none'",
      'form-action': "'none'",
      'frame-ancestors': "'none'",
    }),
  };
}

/** Headers of the server-rendered pages: no script at all, their one inline style by hash. */
export function pageHeaders(): Record<string, string> {
  return {
    ...COMMON,
    'content-security-policy': policy({
      'default-src': "'none'",
      'style-src': PAGE_STYLE_HASH,
      'img-src': 'data:',
      'base-uri': "'none'",
      'form-action': "'none'",
      'frame-ancestors': "'none'",
    }),
  };
}
