import { IncomingMessage } from 'node:http';
import { isLocalHostname, originAllowed, ownOrigin } from '../../src/web/origin';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
const dev = { allowedOrigins: [], trustProxy: false, publicUrl: undefined };

describe('origin', () => {
  test('local host names: localhost, loopback, private networks and link-local by IP; never a DNS name', () => {
    for (const host of ['localhost', 'app.localhost', '127.0.0.1', '127.9.9.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.20', '169.254.1.1', '[::1]', '::1', 'fd12::1', 'fe80::1', '::ffff:192.168.0.1']) {
      expect([host, isLocalHostname(host)]).toEqual([host, true]);
    }
    for (const host of ['evil.example', 'localhost.evil.example', '8.8.8.8', '172.32.0.1', '192.169.0.1', '2001:db8::1', '::ffff:8.8.8.8', '']) {
      expect([host, isLocalHostname(host)]).toEqual([host, false]);
    }
  });

  test('without PUBLIC_URL the own origin is the Host header only when local; with it, PUBLIC_URL whatever the Host', () => {
    expect(ownOrigin(request({ host: '192.168.1.20:8005' }), dev)).toBe('http://192.168.1.20:8005');
    expect(ownOrigin(request({ host: 'evil.example:8005' }), dev)).toBeUndefined();
    expect(ownOrigin(request({ host: 'bad host;' }), dev)).toBeUndefined();
    expect(ownOrigin(request({ host: '127.0.0.1:1', 'x-forwarded-host': 'localhost:443', 'x-forwarded-proto': 'https' }), { ...dev, trustProxy: true })).toBe('https://localhost');
    expect(ownOrigin(request({ host: 'evil.example' }), { ...dev, publicUrl: 'https://chat.example.com' })).toBe('https://chat.example.com');
  });

  test('originAllowed: no Origin (not a browser), the own origin, ALLOWED_ORIGINS; nothing else', () => {
    expect(originAllowed(request({ host: 'evil.example' }), dev)).toBe(true);
    expect(originAllowed(request({ host: 'localhost:8005', origin: 'http://localhost:8005' }), dev)).toBe(true);
    expect(originAllowed(request({ host: 'evil.example:8005', origin: 'http://evil.example:8005' }), dev)).toBe(false);
    expect(originAllowed(request({ host: 'localhost:8005', origin: 'null' }), dev)).toBe(false);
    expect(originAllowed(request({ host: 'evil.example', origin: 'https://friend.example' }), { ...dev, allowedOrigins: ['https://friend.example'] })).toBe(true);
    const prod = { ...dev, publicUrl: 'https://chat.example.com' };
    expect(originAllowed(request({ host: 'chat.example.com', origin: 'https://chat.example.com' }), prod)).toBe(true);
    expect(originAllowed(request({ host: 'localhost:8005', origin: 'http://localhost:8005' }), prod)).toBe(false);
    expect(originAllowed(request({ host: 'chat.example.com', origin: 'http://chat.example.com' }), prod)).toBe(false); // the scheme counts
  });
});
