/**
 * The simulated 2.4 GHz "air" between the toy's BLE stack (sim/moddable/bleserver.ts,
 * the Node implementation of the Moddable `bleserver` module) and simulated phones
 * (SimAirCentral, a PhoneTransport for phone/phone-pairing.ts pairWithToy).
 *
 * `air` is a process-wide singleton, as the radio is on the device: BLEServer registers
 * with it (one server at a time: a second `new BLEServer()` throws "BLE already
 * initialized", like the SDK's NimBLE port), phones scan and connect through it.
 *
 * What the simulated stack models of NimBLE on the ESP32 (modules/network/ble/nimble/
 * modBLEServer.c, SDK 8.2):
 * - every stack event reaches JavaScript as its own message, later (setImmediate), in
 *   order: onReady after the constructor returns, onConnected, onCharacteristicWritten,
 *   onCharacteristicNotifyEnabled/Disabled, onDisconnected. A write-with-response is
 *   acknowledged to the phone BEFORE the JS handler runs (the access callback posts it);
 *   a read waits for the JS answer (undefined or an exception → ATT error 0x11);
 * - one connection; undirected advertising stops when a central connects and does not
 *   restart by itself; only a connectable advertisement (flags with a discoverable
 *   bit) accepts a connection; AD data longer than 31 bytes is refused by the controller;
 * - ATT: write to a characteristic without `write` → 0x03, read without `read` → 0x02,
 *   subscribe without `notify`/`indicate` → 0x03, a value over 512 bytes → 0x0D;
 *   notifications longer than MTU-3 are truncated (counted), MTU = min(phone, 256);
 * - `close()` tears the stack down: the link drops, no further JS callbacks.
 * Not modelled: link-layer encryption/pairing (securityParameters are recorded in
 * `air.security` only), bonding, passkeys, several connections, RSSI/timing.
 *
 * The GATT table comes from the GATT JSON files (bleservices/*.json, as mcconfig
 * compiles them for the device through the manifest's "ble" key), loaded from
 * `air.servicesDir` (default: <repo>/bleservices) or set with `air.setServices()`.
 *
 * `air.log` records every value that crossed the air both ways (what an eavesdropper
 * would capture), `air.counters` the stack's notable events.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PairingError } from '../../src/pairing-protocol.js';
import { CHR_UUIDS, PAIRING_SERVICE_UUID } from '../../src/pairing-protocol.js';
import type { PhoneTransport } from '../../phone/phone-pairing.js';
import { Bytes, parseAdvertisement, uuidFromString, type ParsedAdvertisement } from './btutils.js';

// ---------------------------------------------------------------- GATT table

/** A characteristic of the deployed GATT table. */
export interface GattChar {
  /** JSON name (the key in "characteristics"). */
  name: string;
  /** Lowercase UUID string. */
  uuid: string;
  uuidBytes: Bytes;
  /** JSON `type` ("Uint8Array", "String", ...); undefined = raw ArrayBuffer. */
  type: string | undefined;
  properties: ReadonlySet<string>;
  maxBytes: number;
  /** Declaration at valueHandle-1, value at valueHandle, CCCD at valueHandle+1 when notifiable. */
  valueHandle: number;
  /** A static `value` from the JSON: answered by the stack without JS. */
  staticValue: ArrayBuffer | undefined;
}
export interface GattService {
  uuid: string;
  uuidBytes: Bytes;
  start: number;
  end: number;
  characteristics: GattChar[];
}

interface ServiceJson {
  service: {
    uuid: string;
    characteristics: Record<string, { uuid: string; maxBytes?: number; type?: string; properties?: string; permissions?: string; value?: unknown }>;
  };
}

/** Builds a handle-numbered table from GATT JSON documents (first handle 1). Throws Error on a malformed document. */
export function buildGattTable(docs: ServiceJson[]): GattService[] {
  let h = 1;
  const out: GattService[] = [];
  for (const d of docs) {
    if (!d?.service?.uuid || typeof d.service.characteristics !== 'object') throw new Error('GATT JSON: service.uuid and service.characteristics required');
    const start = h++;
    const chars: GattChar[] = [];
    for (const [name, c] of Object.entries(d.service.characteristics)) {
      const props = new Set((c.properties ?? '').split(',').map((s) => s.trim()).filter(Boolean));
      const declaration = h++;
      const valueHandle = h++;
      if (props.has('notify') || props.has('indicate')) h++;
      let staticValue: ArrayBuffer | undefined;
      if (c.value !== undefined) {
        if (typeof c.value === 'string') staticValue = new TextEncoder().encode(c.value).buffer;
        else if (Array.isArray(c.value)) staticValue = new Uint8Array(c.value as number[]).buffer;
        else if (typeof c.value === 'number') staticValue = Uint8Array.of(c.value & 0xff).buffer;
      }
      void declaration;
      chars.push({ name, uuid: c.uuid.toLowerCase(), uuidBytes: uuidFromString(c.uuid), type: c.type, properties: props, maxBytes: c.maxBytes ?? 0, valueHandle, staticValue });
    }
    out.push({ uuid: d.service.uuid.toLowerCase(), uuidBytes: uuidFromString(d.service.uuid), start, end: h - 1, characteristics: chars });
  }
  return out;
}

// ---------------------------------------------------------------- ATT errors

/** ATT error codes used by the simulation. */
export const ATT = {
  READ_NOT_PERMITTED: 0x02,
  WRITE_NOT_PERMITTED: 0x03,
  INVALID_ATTRIBUTE_VALUE_LENGTH: 0x0d,
  INSUFFICIENT_RESOURCES: 0x11,
} as const;

/** An ATT error response received by the phone. `code` is always 'ATT'; `att` is the ATT error code. */
export class AttError extends Error {
  override readonly name = 'AttError';
  readonly code = 'ATT' as const;
  constructor(readonly att: number, message: string) {
    super(message);
  }
}

// ---------------------------------------------------------------- the air

/** The peripheral side, implemented by sim/moddable/bleserver.ts. */
export interface AirPeripheral {
  /** Current advertisement, or undefined when not advertising. */
  readonly advertisement: AirAdvertisement | undefined;
  /** The deployed GATT table (empty before onReady). */
  gatt(): readonly GattService[];
  /** A central connects. Returns the connection handle. */
  connectFrom(link: AirLink): number | 'NOT_ADVERTISING' | 'BUSY';
  /** ATT write request; throws AttError. The JS callback runs later. */
  writeFrom(conn: number, ch: GattChar, value: Uint8Array): void;
  /** ATT read request; rejects with AttError. */
  readFrom(conn: number, ch: GattChar): Promise<Uint8Array>;
  /** CCCD write; throws AttError. */
  subscribeFrom(conn: number, ch: GattChar, on: boolean): void;
  /** The central drops the link. */
  dropFrom(conn: number): void;
  /** The stack's preferred ATT MTU. */
  readonly mtu: number;
}

/** The central side of one link. */
export interface AirLink {
  readonly mtu: number;
  readonly address: Bytes;
  notified(ch: GattChar, value: Uint8Array): void;
  /** The toy (or its stack going down) dropped link `conn`. */
  dropped(conn: number): void;
}

export interface AirAdvertisement {
  connectable: boolean;
  data: ParsedAdvertisement;
  scanResponse: ParsedAdvertisement;
}

export interface AirRecord {
  dir: 'to-toy' | 'to-phone';
  op: 'write' | 'read' | 'notify';
  connection: number;
  characteristic: string;
  value: Uint8Array;
}

export class BleAir {
  /** Where the GATT JSON files are read from (lazily, at the first BLEServer). */
  servicesDir: string;
  private services: GattService[] | undefined;
  private peripheral: AirPeripheral | undefined;
  /** Bonds in the stack's store (never created by this simulation; see sm.ts). */
  readonly bonds: { address: Uint8Array; addressType: number }[] = [];
  /** The last securityParameters set by a BLEServer. */
  security: { encryption: boolean; bonding: boolean; mitm: boolean; ioCapability: number } | undefined;
  /** The GAP device name set by a BLEServer. */
  deviceName: string | undefined;
  readonly log: AirRecord[] = [];
  readonly counters = {
    servers: 0,
    advertiseStarts: 0,
    advDataTooLong: 0,
    connects: 0,
    refusedConnects: 0,
    disconnects: 0,
    writes: 0,
    reads: 0,
    notifies: 0,
    notifyNoLink: 0,
    notifyUnsubscribed: 0,
    notifyTruncated: 0,
    attErrors: 0,
    jsExceptions: 0,
    bondsDeleted: 0,
  };

  constructor(servicesDir?: string) {
    this.servicesDir = servicesDir ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bleservices');
  }

  /** Sets the GATT table from JSON documents (instead of reading servicesDir). */
  setServices(docs: unknown[]): void {
    this.services = buildGattTable(docs as ServiceJson[]);
  }

  /** The GATT table the stack deploys. Throws Error when the JSON files cannot be read. */
  gattTable(): GattService[] {
    if (!this.services) {
      const files = fs.readdirSync(this.servicesDir).filter((f) => f.endsWith('.json')).sort();
      this.services = buildGattTable(files.map((f) => JSON.parse(fs.readFileSync(path.join(this.servicesDir, f), 'utf8')) as ServiceJson));
    }
    return this.services;
  }

  /** @internal BLEServer constructor. Throws like the SDK when a server already exists. */
  register(p: AirPeripheral): void {
    if (this.peripheral) throw new Error('BLE already initialized');
    this.peripheral = p;
    this.counters.servers++;
  }
  /** @internal BLEServer close. */
  unregister(p: AirPeripheral): void {
    if (this.peripheral === p) this.peripheral = undefined;
  }

  /** What a scanning phone sees now (at most one toy in this air). */
  scan(): { name: string | undefined; services: string[]; connectable: boolean }[] {
    const a = this.peripheral?.advertisement;
    if (!a) return [];
    return [{ name: a.scanResponse.completeName ?? a.data.completeName ?? a.data.shortName, services: [...a.data.uuid128, ...a.scanResponse.uuid128], connectable: a.connectable }];
  }

  /** @internal */
  currentPeripheral(): AirPeripheral | undefined {
    return this.peripheral;
  }

  /** @internal */
  deleteAllBonds(): void {
    this.counters.bondsDeleted += this.bonds.length;
    this.bonds.length = 0;
  }
  /** @internal */
  deleteBond(address: ArrayBuffer, addressType: number): void {
    const a = new Uint8Array(address);
    const i = this.bonds.findIndex((b) => b.addressType === addressType && b.address.length === a.length && b.address.every((x, j) => x === a[j]));
    if (i >= 0) {
      this.bonds.splice(i, 1);
      this.counters.bondsDeleted++;
    }
  }

  /** Forgets log, counters, bonds and the GATT table cache (between tests). Does not touch a live server. */
  reset(): void {
    this.log.length = 0;
    for (const k of Object.keys(this.counters) as (keyof BleAir['counters'])[]) this.counters[k] = 0;
    this.bonds.length = 0;
    this.services = undefined;
    this.security = undefined;
    this.deviceName = undefined;
  }
}

/** The process-wide air (the simulator has one radio). */
export const air = new BleAir();

// ---------------------------------------------------------------- a phone

export interface SimAirCentralOptions {
  /** ATT MTU the phone asks for (default 185, iOS's usual). */
  mtu?: number;
  /** How long nextNotification waits, real milliseconds (default 5000). */
  notifyTimeoutMs?: number;
  /** Service the phone app looks for (default the pairing service). */
  serviceUuid?: string;
  /** Characteristic names the app uses → UUIDs (default src/pairing-protocol.ts CHR_UUIDS). */
  characteristics?: Readonly<Record<string, string>>;
}

let nextPhone = 1;

/**
 * A simulated phone (BLE central) in `air`. It finds the toy by its advertised service
 * UUID, discovers the GATT table by UUID (the phone app knows UUIDs, not the toy's JSON
 * names), subscribes to every notifiable characteristic it knows, then reads, writes and
 * queues notifications per characteristic.
 *
 * Errors: PairingError('CLOSED') when not connected or the link drops while waiting,
 * PairingError('TIMEOUT') when no notification comes in time, AttError for an ATT error
 * response, PairingError('MALFORMED') when the toy lacks a characteristic the app needs.
 */
export class SimAirCentral implements PhoneTransport, AirLink {
  readonly mtu: number;
  readonly address: Bytes;
  private readonly notifyTimeoutMs: number;
  private readonly serviceUuid: string;
  private readonly chrUuids: Readonly<Record<string, string>>;
  private peripheral: AirPeripheral | undefined;
  private conn: number | undefined;
  private readonly byUuid = new Map<string, GattChar>();
  private readonly queues = new Map<string, Uint8Array[]>();
  private readonly waiters = new Map<string, { resolve: (v: Uint8Array) => void; reject: (e: unknown) => void; timer: ReturnType<typeof setTimeout> }[]>();
  /** Every notification received, in order (names as the app knows them). */
  readonly received: { characteristic: string; value: Uint8Array }[] = [];
  disconnectedByPeer = 0;

  constructor(private readonly theAir: BleAir = air, o: SimAirCentralOptions = {}) {
    this.mtu = o.mtu ?? 185;
    this.notifyTimeoutMs = o.notifyTimeoutMs ?? 5000;
    this.serviceUuid = (o.serviceUuid ?? PAIRING_SERVICE_UUID).toLowerCase();
    this.chrUuids = o.characteristics ?? CHR_UUIDS;
    const n = nextPhone++;
    // a random static address (top bits 11), distinct per phone
    this.address = new Bytes(Uint8Array.of(n & 0xff, (n >> 8) & 0xff, 0x50, 0x50, 0x48, 0xc0).buffer);
  }

  get connected(): boolean {
    return this.conn !== undefined;
  }
  get connection(): number | undefined {
    return this.conn;
  }

  /**
   * Scans for the service, connects, discovers and (by default) subscribes. Resolves
   * once the phone's side of the link is up; the toy's JS hears of it a moment later.
   */
  async connect(opts: { subscribe?: boolean } = {}): Promise<'OK' | 'NOT_FOUND' | 'NOT_ADVERTISING' | 'BUSY' | 'DROPPED'> {
    if (this.conn !== undefined) return 'BUSY';
    const p = this.theAir.currentPeripheral();
    const seen = this.theAir.scan().find((s) => s.services.includes(this.serviceUuid));
    if (!p || !seen) return 'NOT_FOUND';
    if (!seen.connectable) return 'NOT_ADVERTISING';
    const r = p.connectFrom(this);
    if (typeof r !== 'number') return r;
    this.peripheral = p;
    this.conn = r;
    // discovery (by UUID)
    this.byUuid.clear();
    const svc = p.gatt().find((s) => s.uuid === this.serviceUuid);
    for (const c of svc?.characteristics ?? []) this.byUuid.set(c.uuid, c);
    if (opts.subscribe ?? true) {
      for (const [name, u] of Object.entries(this.chrUuids)) {
        const c = this.byUuid.get(u.toLowerCase());
        if (c && (c.properties.has('notify') || c.properties.has('indicate'))) await this.subscribe(name);
      }
    }
    await tick();
    return this.conn === undefined ? 'DROPPED' : 'OK';
  }

  /** Enables (or disables) notifications on `characteristic` (a CCCD write). */
  async subscribe(characteristic: string, on = true): Promise<void> {
    const { p, conn, ch } = this.target(characteristic);
    p.subscribeFrom(conn, ch, on);
    await tick();
  }

  /** The phone goes away (out of range, app killed). Safe when not connected. */
  disconnect(): void {
    const p = this.peripheral;
    const conn = this.conn;
    if (!p || conn === undefined) return;
    this.linkGone();
    p.dropFrom(conn);
  }

  async write(characteristic: string, value: Uint8Array): Promise<void> {
    const { p, conn, ch } = this.target(characteristic);
    p.writeFrom(conn, ch, value.slice());
    await tick(); // the write response
  }

  async read(characteristic: string): Promise<Uint8Array> {
    const { p, conn, ch } = this.target(characteristic);
    return p.readFrom(conn, ch);
  }

  nextNotification(characteristic: string): Promise<Uint8Array> {
    const q = this.queues.get(characteristic);
    const v = q?.shift();
    if (v) return Promise.resolve(v);
    if (this.conn === undefined) return Promise.reject(new PairingError('CLOSED', 'not connected'));
    return new Promise((resolve, reject) => {
      let list = this.waiters.get(characteristic);
      if (!list) this.waiters.set(characteristic, (list = []));
      const w = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = list!.indexOf(w);
          if (i >= 0) list!.splice(i, 1);
          reject(new PairingError('TIMEOUT', `no notification on ${characteristic}`));
        }, this.notifyTimeoutMs),
      };
      list.push(w);
    });
  }

  /** Takes the oldest queued notification on `characteristic`, if any. */
  take(characteristic: string): Uint8Array | undefined {
    return this.queues.get(characteristic)?.shift();
  }

  // ---- AirLink (called by the peripheral)

  /** @internal */
  notified(ch: GattChar, value: Uint8Array): void {
    const name = this.nameOf(ch);
    this.received.push({ characteristic: name, value });
    const w = this.waiters.get(name)?.shift();
    if (w) {
      clearTimeout(w.timer);
      w.resolve(value);
      return;
    }
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = []));
    q.push(value);
  }
  /** @internal */
  dropped(conn: number): void {
    if (this.conn === undefined || this.conn !== conn) return;
    this.disconnectedByPeer++;
    this.linkGone();
  }

  private linkGone(): void {
    this.conn = undefined;
    this.peripheral = undefined;
    for (const list of this.waiters.values())
      for (const w of list.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new PairingError('CLOSED', 'link dropped'));
      }
  }

  private nameOf(ch: GattChar): string {
    for (const [name, u] of Object.entries(this.chrUuids)) if (u.toLowerCase() === ch.uuid) return name;
    return ch.uuid;
  }

  private target(characteristic: string): { p: AirPeripheral; conn: number; ch: GattChar } {
    const p = this.peripheral;
    const conn = this.conn;
    if (!p || conn === undefined) throw new PairingError('CLOSED', 'not connected');
    const u = this.chrUuids[characteristic];
    const ch = u ? this.byUuid.get(u.toLowerCase()) : undefined;
    if (!ch) throw new PairingError('MALFORMED', `the toy has no characteristic ${characteristic}`);
    return { p, conn, ch };
  }
}

/** One macrotask: lets messages already posted to the toy's JS run. */
export function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
