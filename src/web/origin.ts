import { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** What decides which origins are the server's own. */
export interface OriginPolicy {
  /** Extra origins allowed (ALLOWED_ORIGINS). */
  allowedOrigins: readonly string[];
  /** Trust X-Forwarded-Host (TRUST_PROXY). */
  trustProxy: boolean;
  /** The server's own origin (PUBLIC_URL); unset: the Host header, for local hosts only. */
  publicUrl: string | undefined;
}

/** True for an IPv4 address on loopback, a private network (RFC 1918) or link-local. */
function localIPv4(ip: string): boolean {
  const [a, b] = ip.split('.').map(Number);
  return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
}

/**
 * True when a host name (no port) can only be this machine or the local network: localhost
 * (and `*.localhost`), or an IP literal on loopback, a private network or link-local. A DNS
 * name could be an attacker's name pointed at this server (DNS rebinding), so none counts.
 */
export function isLocalHostname(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const kind = isIP(host);
  if (kind === 4) return localIPv4(host);
  if (kind === 6) {
    if (host === '::1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
    if (mapped) return localIPv4(mapped[1]);
    return /^f[cd]/.test(host) || /^fe[89ab]/.test(host); // unique local, link-local
  }
  return false;
}

/**
 * The server's own origin for this request: PUBLIC_URL when set; otherwise built from the
 * Host header (X-Forwarded-Host and -Proto behind TRUST_PROXY), but only when that names a
 * local host (see isLocalHostname); undefined when it names anything else or is malformed.
 */
export function ownOrigin(req: IncomingMessage, policy: OriginPolicy): string | undefined {
  if (policy.publicUrl) return policy.publicUrl;
  const first = (value: string | string[] | undefined) => String(value ?? '').split(',')[0].trim();
  const forwardedHost = policy.trustProxy ? first(req.headers['x-forwarded-host']) : '';
  const host = forwardedHost || req.headers.host || '';
  const scheme = policy.trustProxy && first(req.headers['x-forwarded-proto']) === 'https' ? 'https' : 'http';
  let url: URL;
  try {
    url = new URL(`${scheme}://${host}`);
  } catch {
    return undefined;
  }
  // A plain host[:port] only: nothing of a header may reach what is built from it (the CSP) unchecked.
  if (!/^([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$/i.test(host) || !isLocalHostname(url.hostname)) return undefined;
  return url.origin;
}

/**
 * True when a request may act for the visitor: no Origin (not a browser), the server's own
 * origin, or one of ALLOWED_ORIGINS. The own origin is PUBLIC_URL when set, never the Host
 * header (which DNS rebinding controls); without PUBLIC_URL (development) the Host header
 * counts only when it names localhost or a loopback or private-network address, so `npm
 * start` works from this machine and from a browser on the LAN by IP. Guards WebSocket
 * upgrades (cross-site hijacking) and state-changing forms (CSRF).
 */
export function originAllowed(req: IncomingMessage, policy: OriginPolicy): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (policy.allowedOrigins.includes(url.origin)) return true;
  if (policy.publicUrl) return url.origin === policy.publicUrl;
  // Development: the host of the request (or behind TRUST_PROXY the forwarded one), when local.
  const hosts = [req.headers.host];
  if (policy.trustProxy) hosts.push(String(req.headers['x-forwarded-host'] ?? '').split(',')[0].trim());
  return hosts.some((host) => host && host.toLowerCase() === url.host && isLocalHostname(url.hostname));
}
