import { TestClient } from '../helpers/client';
import { startServer } from '../helpers/server';

describe('HTTP: health, metrics, pages', () => {
  test('GET /healthz is 200 JSON', async () => {
    const s = await startServer();
    const res = await fetch(`${s.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toMatchObject({ status: 'ok', connections: 0, rooms: 0 });
  });

  test('GET /metrics reports connections, users, rooms, frames and errors by code', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    await a.request('create', { title: 'r' });
    a.sendRaw('nope');
    await a.next('error', () => true, 0);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).toMatch(/^gifchat_connections 1$/m);
    expect(text).toMatch(/^gifchat_users_online 1$/m);
    expect(text).toMatch(/^gifchat_rooms 1$/m);
    expect(text).toMatch(/^gifchat_frames_in_total 2$/m);
    expect(text).toMatch(/^gifchat_frames_out_total [3-9]$/m);
    expect(text).toMatch(/^gifchat_errors_total\{code="bad_json"\} 1$/m);
  });

  test('the lobby page renders escaped room titles; unknown paths get the 404 page', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    await a.request('create', { title: '<script>alert(1)</script>' });
    const page = await fetch(`${s.url}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert(1)');
    const missing = await fetch(`${s.url}/no/such/page`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('nothing at this address');
  });
});
