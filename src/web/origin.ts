import { IncomingMessage } from 'node:http';

/**
 * True when a request may act for the visitor: no Origin (not a browser), the
 * server's own origin (same host as the request), or one of ALLOWED_ORIGINS.
 * Guards WebSocket upgrades (cross-site hijacking) and state-changing forms (CSRF).
 */
export function originAllowed(req: IncomingMessage, allowed: readonly string[], trustProxy: boolean): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const hosts = [req.headers.host];
  if (trustProxy) hosts.push(String(req.headers['x-forwarded-host'] ?? '').split(',')[0].trim());
  if (hosts.some((host) => host && host.toLowerCase() === url.host)) return true;
  return allowed.includes(url.origin);
}
