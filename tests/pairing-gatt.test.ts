/** The GATT JSON (bleservices/), the manifest and the protocol constants agree. */
import test from 'ava';
import * as fs from 'node:fs';
import { CHR_UUIDS, MAX_NOTIFY_BYTES, MAX_WRITE_BYTES, PAIRING_SERVICE_UUID } from '../src/pairing-protocol.js';

const svc = JSON.parse(fs.readFileSync('bleservices/pawpost-pairing.json', 'utf8')) as {
  service: { uuid: string; characteristics: Record<string, { uuid: string; maxBytes: number; permissions: string; properties: string }> };
};

test('service and characteristic UUIDs are the custom 128-bit ones of the protocol', (t) => {
  t.is(svc.service.uuid.toLowerCase(), PAIRING_SERVICE_UUID);
  t.regex(PAIRING_SERVICE_UUID, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  t.deepEqual(Object.keys(svc.service.characteristics).sort(), Object.keys(CHR_UUIDS).sort());
  for (const [name, c] of Object.entries(svc.service.characteristics)) {
    t.is(c.uuid.toLowerCase(), CHR_UUIDS[name], name);
    t.true(c.maxBytes >= MAX_WRITE_BYTES && c.maxBytes >= MAX_NOTIFY_BYTES, name);
  }
  t.is(svc.service.characteristics.info!.properties, 'read', 'info is read-only');
  for (const n of ['pair', 'session']) t.is(svc.service.characteristics[n]!.properties, 'write,notify');
  const adapter = fs.readFileSync('hal/moddable-ble.ts', 'utf8');
  t.true(adapter.toLowerCase().includes(PAIRING_SERVICE_UUID), 'the adapter advertises the same UUID');
});

test('the manifest compiles the service files and includes the BLE server', (t) => {
  const m = JSON.parse(fs.readFileSync('manifest.json', 'utf8')) as { ble?: Record<string, string[]>; include: string[] };
  t.deepEqual(m.ble?.['*'], ['./bleservices/*']);
  t.true(m.include.includes('$(MODDABLE)/modules/network/ble/manifest_server.json'));
});
