/**
 * hal/moddable-ble.ts (the device's BLE adapter) running unchanged on the Node
 * implementation of the Moddable `bleserver`/`btutils`/`sm` modules
 * (sim/moddable/*), with a simulated phone (SimAirCentral) on the simulated air:
 * the real PairingService pairs with pairWithToy over it; the stack's rules (one
 * connection, advertising stops on connect, ATT permissions, notify needs a
 * subscription, close tears the link down) hold.
 *
 * The adapter is bundled by esbuild with the Moddable specifiers left external and
 * pointed at sim/moddable/*.ts, so the test and the adapter share one `air`.
 */
import test from 'ava';
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BlePeripheralPort } from '../hal/ports.js';
import { Counters } from '../src/counters.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { loadNetworkSettings } from '../src/network-settings.js';
import { MIN_ATT_MTU, PairingError, PAIRING_SERVICE_UUID } from '../src/pairing-protocol.js';
import { PairingService, type PairingEvent } from '../src/pairing-service.js';
import { pairWithToy } from '../phone/phone-pairing.js';
import { Roster } from '../src/roster.js';
import { air, AttError, SimAirCentral, tick } from '../sim/moddable/ble-air.js';
import { uuid } from '../sim/moddable/btutils.js';
import { DEVICE_INFO, NETWORK, PairingRig } from './pairing-rig.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Moddable specifier → Node implementation. */
const MODDABLE: Record<string, string> = {
  bleserver: 'sim/moddable/bleserver.ts',
  btutils: 'sim/moddable/btutils.ts',
  sm: 'sim/moddable/sm.ts',
  gatt: 'sim/moddable/gatt.ts',
};

interface ModdableBleLike extends BlePeripheralPort {
  close(): void;
}
type ModdableBleCtor = new (o?: { deviceName?: string; onError?: (e: unknown) => void }) => ModdableBleLike;

async function loadAdapter(): Promise<ModdableBleCtor> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-mble-'));
  const outfile = path.join(dir, 'moddable-ble.mjs');
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'hal/moddable-ble.ts')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'es2022',
    outfile,
    logLevel: 'silent',
    plugins: [
      {
        name: 'moddable-sim',
        setup(b) {
          b.onResolve({ filter: /^[a-z][a-z/]*$/ }, (a) => {
            const f = MODDABLE[a.path];
            if (!f) return { errors: [{ text: `no simulated Moddable module for "${a.path}"` }] };
            return { path: pathToFileURL(path.join(ROOT, f)).href, external: true };
          });
        },
      },
    ],
  });
  const mod = (await import(pathToFileURL(outfile).href)) as { ModdableBle: ModdableBleCtor };
  fs.rmSync(dir, { recursive: true, force: true });
  return mod.ModdableBle;
}

const ModdableBle = await loadAdapter();

async function settle(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await tick();
}

/** A toy: PairingService over the ModdableBle adapter, with the pairing rig's identity and fakes. */
async function makeToy() {
  const rig = new PairingRig(7);
  const errors: unknown[] = [];
  const ble = new ModdableBle({ deviceName: 'PawPost', onError: (e) => errors.push(e) });
  const events: PairingEvent[] = [];
  const counters = new Counters();
  const roster = new Roster(rig.storage);
  const svc = new PairingService({
    ble, clock: rig.clock, random: rig.random, crypto: naclCrypto, storage: rig.storage, roster,
    identity: rig.identity, deviceInfo: DEVICE_INFO, counters, log: rig.log,
    onEvent: (e) => events.push(e), onError: (e) => errors.push(e),
  });
  await settle(); // onReady
  return {
    rig, ble, svc, roster, counters, events, errors,
    close: () => {
      svc.close();
      ble.close();
    },
  };
}

test.beforeEach(() => air.reset());

test.serial('btutils: uuid`` holds the UUID in wire order and prints it back', (t) => {
  const u = uuid`7A3F0001-5061-7750-6F73-742D70616972`;
  t.is(u.byteLength, 16);
  t.is(new Uint8Array(u)[0], 0x72, 'least significant byte first');
  t.is(new Uint8Array(u)[15], 0x7a);
  t.is(u.toString().toLowerCase(), PAIRING_SERVICE_UUID);
  t.true(u.equals(uuid`7A3F0001-5061-7750-6F73-742D70616972`));
  t.false(u.equals(uuid`7A3F0002-5061-7750-6F73-742D70616972`));
});

test.serial('the toy pairs with pairWithToy over the simulated air through hal/moddable-ble.ts', async (t) => {
  const toy = await makeToy();
  try {
    t.deepEqual(air.scan(), [], 'silent before the local press');
    t.deepEqual(air.security, { encryption: false, bonding: false, mitm: false, ioCapability: 0 }, 'Just Works, no bonding (onReady)');
    t.is(air.deviceName, 'PawPost');
    t.is(toy.svc.enterPairingMode(), 'OK');
    const seen = air.scan();
    t.is(seen.length, 1);
    t.is(seen[0]!.name, 'PawPost', 'the name from the scan response');
    t.deepEqual(seen[0]!.services, [PAIRING_SERVICE_UUID], 'the service UUID, decoded from the advertisement bytes');
    t.true(seen[0]!.connectable);
    t.is(air.counters.advDataTooLong, 0, 'advertisement and scan response fit 31 bytes');

    const phone = new SimAirCentral(air);
    t.is(await phone.connect(), 'OK');
    await settle();
    t.deepEqual(air.scan(), [], 'advertising stopped on connect');
    t.is(toy.svc.status(), 'pairing');

    const result = await pairWithToy(phone, {
      crypto: naclCrypto, random: toy.rig.random, setupCode: toy.rig.setupCode,
      member: toy.rig.phoneKeys(1), memberId: 'phone1', name: 'Parent 1', network: NETWORK,
    });
    t.is(result.toyId, toy.rig.identity.toyId);
    t.deepEqual(result.toyPublicKey, toy.rig.identity.publicKey);
    t.is(result.info.model, DEVICE_INFO.model, 'the info characteristic was read through onCharacteristicRead');
    t.is(result.members, 1);
    const m = toy.roster.get('phone1');
    t.truthy(m);
    t.deepEqual(m!.sharedKey, result.sharedKey, 'both sides hold the same static shared key');
    t.deepEqual(loadNetworkSettings(toy.rig.storage), NETWORK);
    await settle();
    t.true(toy.events.some((e) => e.kind === 'ended' && e.result === 'paired'));
    t.false(phone.connected, 'the toy drops the phone after DONE (BLEServer.disconnect)');
    t.is(phone.disconnectedByPeer, 1);
    t.is(toy.svc.status(), 'idle');
    t.deepEqual(air.scan(), []);
    // what crossed the air: writes to pair/session, notifications back, one read of info
    t.true(air.log.some((r) => r.dir === 'to-toy' && r.characteristic === 'pair'));
    t.true(air.log.some((r) => r.dir === 'to-phone' && r.op === 'notify' && r.characteristic === 'session'));
    t.is(air.log.filter((r) => r.op === 'read').length, 1);
    t.is(air.counters.notifyTruncated, 0);
    t.is(air.counters.jsExceptions, 0);
    t.deepEqual(toy.errors, []);
  } finally {
    toy.close();
  }
});

test.serial('a wrong setup code fails on the phone (TOY_AUTH), which closes the link; uncounted; the right code works at once', async (t) => {
  const toy = await makeToy();
  try {
    toy.svc.enterPairingMode();
    const phone = new SimAirCentral(air);
    t.is(await phone.connect(), 'OK');
    const err = await t.throwsAsync(
      pairWithToy(phone, { crypto: naclCrypto, random: toy.rig.random, setupCode: toy.rig.wrongCode(), member: toy.rig.phoneKeys(2), memberId: 'phone2', name: 'Mallory' }),
    );
    t.true(err instanceof PairingError && err.code === 'TOY_AUTH', String(err));
    t.false(phone.connected, 'pairWithToy dropped the link itself');
    await settle();
    t.is(toy.roster.size, 0);
    t.true(toy.events.some((e) => e.kind === 'attempt-failed' && !e.counted));
    t.is(toy.svc.lockout.failures, 0, 'no proof was sent: nothing counts');
    t.deepEqual(air.scan().map((s) => s.name), ['PawPost'], 'advertising resumes after the phone left');
    const again = new SimAirCentral(air);
    t.is(await again.connect(), 'OK', 'the retry is not told "not in pairing mode"');
    await pairWithToy(again, { crypto: naclCrypto, random: toy.rig.random, setupCode: toy.rig.setupCode, member: toy.rig.phoneKeys(1), memberId: 'phone1', name: 'Parent 1' });
    t.is(toy.roster.size, 1);
  } finally {
    toy.close();
  }
});

test.serial('ATT MTU: a phone below MIN_ATT_MTU gets the named MTU error (uncounted) through the adapter, not a cut-off M2', async (t) => {
  const toy = await makeToy();
  try {
    toy.svc.enterPairingMode();
    for (const mtu of [23, MIN_ATT_MTU - 1]) {
      const phone = new SimAirCentral(air, { mtu });
      t.is(await phone.connect(), 'OK');
      await settle();
      const err = await t.throwsAsync(
        pairWithToy(phone, { crypto: naclCrypto, random: toy.rig.random, setupCode: toy.rig.setupCode, member: toy.rig.phoneKeys(1), memberId: 'phone1', name: 'Parent 1' }),
      );
      t.true(err instanceof PairingError && err.code === 'MTU', `${mtu}: ${String(err)}`);
      await settle();
    }
    t.is(air.counters.notifyTruncated, 0, 'nothing was cut off');
    t.is(toy.svc.lockout.failures, 0);
    t.is(toy.counters.get('pair.mtu_too_small'), 2);
    const phone = new SimAirCentral(air, { mtu: MIN_ATT_MTU });
    t.is(await phone.connect(), 'OK');
    await settle();
    await pairWithToy(phone, { crypto: naclCrypto, random: toy.rig.random, setupCode: toy.rig.setupCode, member: toy.rig.phoneKeys(1), memberId: 'phone1', name: 'Parent 1' });
    t.is(toy.roster.size, 1);
  } finally {
    toy.close();
  }
});

test.serial('the stack rules: not advertising, one connection, ATT permissions, notify needs a subscription', async (t) => {
  const toy = await makeToy();
  try {
    const phone = new SimAirCentral(air, { notifyTimeoutMs: 100 });
    t.is(await phone.connect(), 'NOT_FOUND', 'nothing to connect to outside pairing mode');
    toy.svc.enterPairingMode();
    // a bare phone that does not subscribe: the toy's notify has nowhere to go
    t.is(await phone.connect({ subscribe: false }), 'OK');
    t.is(await new SimAirCentral(air).connect(), 'NOT_FOUND', 'a second phone finds no advertisement');
    await settle();
    // ATT permissions from bleservices/pawpost-pairing.json
    const w = await t.throwsAsync(phone.write('info', Uint8Array.of(1)));
    t.true(w instanceof AttError && w.att === 0x03, 'info is read-only');
    const r = await t.throwsAsync(phone.read('pair'));
    t.true(r instanceof AttError && r.att === 0x02, 'pair is not readable');
    const big = await t.throwsAsync(phone.write('pair', new Uint8Array(513)));
    t.true(big instanceof AttError && big.att === 0x0d);
    // the adapter answers OFF for a characteristic the phone did not subscribe to
    t.is(toy.ble.notify('pair', Uint8Array.of(1, 2)), 'OFF');
    await phone.subscribe('pair');
    await settle();
    t.is(toy.ble.notify('pair', Uint8Array.of(1, 2)), 'OK', 'after onCharacteristicNotifyEnabled');
    t.deepEqual(await phone.nextNotification('pair'), Uint8Array.of(1, 2));
    await phone.subscribe('pair', false);
    await settle();
    t.is(toy.ble.notify('pair', Uint8Array.of(3)), 'OFF', 'after onCharacteristicNotifyDisabled');
    const e = await t.throwsAsync(phone.nextNotification('session'));
    t.true(e instanceof PairingError && e.code === 'TIMEOUT');
    // a garbage write reaches the service as a write event, is answered with a wire error, not thrown
    await phone.subscribe('pair');
    await phone.write('pair', Uint8Array.of(0xff, 0xff));
    const answer = await phone.nextNotification('pair');
    t.true(answer.length > 0, 'the toy answered the garbage write');
    t.is(air.counters.jsExceptions, 0, 'no exception escaped into the stack');
    t.deepEqual(toy.errors, []);
  } finally {
    toy.close();
  }
});

test.serial('close() tears the link down; the next BLEServer can start; two at once cannot', async (t) => {
  const toy = await makeToy();
  toy.svc.enterPairingMode();
  const phone = new SimAirCentral(air);
  t.is(await phone.connect(), 'OK');
  t.throws(() => new ModdableBle(), { message: 'BLE already initialized' });
  toy.close();
  toy.close();
  await settle();
  t.false(phone.connected);
  t.is(phone.disconnectedByPeer, 1);
  await t.throwsAsync(phone.write('pair', Uint8Array.of(1)), { instanceOf: PairingError });
  const again = await makeToy();
  try {
    again.svc.enterPairingMode();
    t.is(air.scan().length, 1);
    t.is(await new SimAirCentral(air).connect(), 'OK');
  } finally {
    again.close();
  }
});
