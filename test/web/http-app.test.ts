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
    expect(text).toMatch(/^gifchat_connections\{node="[^"]+"\} 1$/m);
    expect(text).toMatch(/^gifchat_users_online\{node="[^"]+"\} 1$/m);
    expect(text).toMatch(/^gifchat_rooms\{node="[^"]+"\} 1$/m);
    expect(text).toMatch(/^gifchat_frames_in_total\{node="[^"]+"\} 2$/m);
    expect(text).toMatch(/^gifchat_frames_out_total\{node="[^"]+"\} [3-9]$/m);
    expect(text).toMatch(/^gifchat_errors_total\{code="bad_json",node="[^"]+"\} 1$/m);
  });

  test('GET /metrics: the node label on every series, default process metrics, message and HTTP histograms, an honest loop delay', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    const room = await a.request('create', { title: 'r' });
    await a.request('join', { room: room.id });
    for (let i = 0; i < 3; i++) await a.request('message', { room: room.id, text: `m${i}` });
    await fetch(`${s.url}/`);
    await fetch(`${s.url}/no/such/page`);
    await fetch(`${s.url}/style.css`);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    const node = s.app.nodeId;
    // Every sample line names this node.
    const samples = text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(samples.length).toBeGreaterThan(50);
    for (const line of samples) expect(line).toContain(`node="${node}"`);
    expect(text).toMatch(/^process_cpu_seconds_total\{/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes\{/m);
    /** The value of the sample `name` whose labels include all of `labels`. */
    const value = (body: string, name: string, labels: Record<string, string>) => {
      for (const line of body.split('\n')) {
        const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
        if (!m || m[1] !== name) continue;
        const have = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
        if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
      }
      return undefined;
    };
    expect(value(text, 'gifchat_message_seconds_count', { node })).toBe(3);
    expect(value(text, 'gifchat_http_request_duration_seconds_count', { method: 'GET', route: '/', status: '200' })).toBe(1);
    expect(value(text, 'gifchat_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(value(text, 'gifchat_http_request_duration_seconds_count', { method: 'GET', route: 'static', status: '200' })).toBe(1);
    // The loop-delay quantiles are ordered: max ≥ p99 ≥ p50 (an empty window is all 0), on every scrape.
    for (const body of [text, await (await fetch(`${s.url}/metrics`)).text()]) {
      const q = (quantile: string) => value(body, 'gifchat_event_loop_delay_seconds', { quantile })!;
      expect(q('1')).toBeGreaterThanOrEqual(q('0.99'));
      expect(q('0.99')).toBeGreaterThanOrEqual(q('0.5'));
    }
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
