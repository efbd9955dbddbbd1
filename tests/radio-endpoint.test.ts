/**
 * sim/radio-endpoint.ts: the simulator's radio and relay stand-in for phones outside
 * it. Every bad request is a JSON error with a code (never a crash), /relay/account
 * adds only well-formed accounts for known toys, and it listens on loopback only.
 */
import test from 'ava';
import * as http from 'node:http';
import { BleAir } from '../sim/moddable/ble-air.js';
import { startRadioEndpoint } from '../sim/radio-endpoint.js';
import type { BrokerRegistry } from '../sim/embedded-broker.js';

function post(port: number, route: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: route, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let t = '';
      res.on('data', (d) => (t += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(t || '{}') as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('bad requests are JSON errors with codes; accounts only for known toys', async (t) => {
  const toyId = 'ab'.repeat(16);
  const registry: BrokerRegistry = { toys: { [toyId]: { passwordHash: 'x' } }, phones: {} };
  const ep = await startRadioEndpoint({ air: new BleAir(), registry, port: 0 });
  try {
    t.like(await post(ep.port, '/ble/connect', '{}'), { status: 409, json: { code: 'NOT_FOUND' } }, 'no toy advertising');
    t.like(await post(ep.port, '/ble/read', '{"link":7,"characteristic":"info"}'), { status: 404, json: { code: 'CLOSED' } });
    t.like(await post(ep.port, '/ble/read', 'not json'), { status: 400, json: { code: 'BAD_REQUEST' } });
    t.like(await post(ep.port, '/ble/read', '[1,2]'), { status: 400 });
    t.like(await post(ep.port, '/nope', '{}'), { status: 404 });
    t.like(await post(ep.port, '/relay/account', JSON.stringify({ user: 'ph-' + '0'.repeat(32), password: 'short', toyId })), { status: 400 });
    t.like(await post(ep.port, '/relay/account', JSON.stringify({ user: 'root', password: 'x'.repeat(20), toyId })), { status: 400 });
    t.like(await post(ep.port, '/relay/account', JSON.stringify({ user: 'ph-' + '0'.repeat(32), password: 'x'.repeat(20), toyId: 'cd'.repeat(16) })), { status: 400, json: { error: 'unknown toy' } });
    t.deepEqual(registry.phones, {});
    t.like(await post(ep.port, '/relay/account', JSON.stringify({ user: 'ph-' + '0'.repeat(32), password: 'x'.repeat(20), toyId })), { status: 200 });
    t.deepEqual(registry.phones['ph-' + '0'.repeat(32)]!.toys, [toyId]);
    t.false(JSON.stringify(registry).includes('x'.repeat(20)), 'only the hash is kept');
    // an oversized body is cut off, not buffered
    await t.throwsAsync(() => post(ep.port, '/ble/write', JSON.stringify({ value: 'A'.repeat(20000) })));
    t.like(await post(ep.port, '/ble/connect', '{}'), { status: 409 }, 'still serving');
  } finally {
    await ep.close();
  }
});
