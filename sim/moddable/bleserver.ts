/**
 * Node implementation of the Moddable SDK's `bleserver` module (BLEServer,
 * modules/network/ble/bleserver.js over nimble/modBLEServer.c, SDK 8.2) on the
 * simulated air of sim/moddable/ble-air.ts. What it models and what it does not is
 * listed there; in short: the same callbacks with the same arguments, delivered
 * asynchronously one message at a time, one connection, the GATT table from
 * bleservices/*.json with the JSON `type` conversions of btutils.
 *
 * Callback arguments (as bleserver.js builds them):
 * - onConnected / onDisconnected({ address: Bytes, addressType, connection })
 * - onCharacteristicWritten({ uuid: Bytes, handle, name, type }, value) — value converted
 *   by the JSON type (Uint8Array for "Uint8Array"), over a fresh buffer owned by JS
 * - onCharacteristicRead({ uuid, handle, name, type }) → value (converted back by type;
 *   a "Uint8Array" value is sent as its WHOLE `.buffer`, as on the device)
 * - onCharacteristicNotifyEnabled / Disabled({ uuid, name, type, handle, notify })
 * - onMTUExchanged(mtu) — a number (modBLEServer.c mtuExchangedEvent), after onConnected,
 *   when the phone negotiated more than the default 23
 * An exception thrown by a callback is caught here (the device prints it and carries
 * on) and counted in `air.counters.jsExceptions`; a read whose callback threw is
 * answered with ATT error 0x11, as NimBLE does when no value came back.
 *
 * Methods on a closed server throw Error("instance closed") like the SDK's
 * validateInstance, except close() (safe twice).
 */
import {
  ATT,
  AttError,
  air,
  type AirAdvertisement,
  type AirLink,
  type AirPeripheral,
  type GattChar,
  type GattService,
} from './ble-air.js';
import { Bytes, parseAdvertisement, serializeAdvertisement, typedBufferToValue, typedValueToBuffer } from './btutils.js';
import type { Characteristic, Client } from './gatt.js';

/** GAP.ADFlag discoverable bits: an advertisement with one of them is connectable. */
const LE_LIMITED_DISCOVERABLE_MODE = 0x01;
const LE_GENERAL_DISCOVERABLE_MODE = 0x02;
const NO_BR_EDR = 0x04;
/** Legacy advertising payload limit. */
const MAX_AD_BYTES = 31;
/** NimBLE's preferred ATT MTU on the ESP32 (CONFIG_BT_NIMBLE_ATT_PREFERRED_MTU). */
const STACK_MTU = 256;
/** Largest attribute value (ATT). */
const MAX_ATTR_BYTES = 512;

interface Link {
  conn: number;
  central: AirLink;
  mtu: number;
  subscribed: Set<number>;
}

let nextConnection = 1;

export interface SecurityParameters {
  encryption?: boolean;
  bonding?: boolean;
  mitm?: boolean;
  ioCapability?: number;
}

export class BLEServer {
  #deviceName = '';
  #closed = false;
  #ready = false;
  #table: GattService[] = [];
  #link: Link | undefined;
  #adv: AirAdvertisement | undefined;
  readonly #peripheral: AirPeripheral;
  readonly #localAddress = new Bytes('246F28A1B2C3', true);

  // Callbacks a subclass (or instance) may define; see the file comment for arguments.
  onReady?(): void;
  onConnected?(device: Client): void;
  onDisconnected?(device: Client): void;
  onCharacteristicWritten?(characteristic: Characteristic, value: unknown): void;
  onCharacteristicRead?(characteristic: Characteristic): unknown;
  onCharacteristicNotifyEnabled?(characteristic: Characteristic): void;
  onCharacteristicNotifyDisabled?(characteristic: Characteristic): void;
  onMTUExchanged?(mtu: number): void;

  /** Throws Error("BLE already initialized") when another BLEServer is open. `deployServices: false` deploys no GATT table. */
  constructor(options: { deployServices?: boolean } = {}) {
    const deploy = options.deployServices ?? true;
    const self = this;
    this.#peripheral = {
      get advertisement() {
        return self.#adv;
      },
      get mtu() {
        return STACK_MTU;
      },
      gatt: () => this.#table,
      connectFrom: (central) => this.#connectFrom(central),
      writeFrom: (conn, ch, value) => this.#writeFrom(conn, ch, value),
      readFrom: (conn, ch) => this.#readFrom(conn, ch),
      subscribeFrom: (conn, ch, on) => this.#subscribeFrom(conn, ch, on),
      dropFrom: (conn) => this.#drop(conn, false),
    };
    air.register(this.#peripheral);
    // the host stack syncs, then readyEvent: onReady, then the services are deployed
    this.#post(() => {
      this.#ready = true;
      if (deploy) this.#table = air.gattTable();
      this.callback('onReady');
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#adv = undefined;
    const l = this.#link;
    this.#link = undefined;
    if (l) {
      air.counters.disconnects++;
      setImmediate(() => l.central.dropped(l.conn));
    }
    air.unregister(this.#peripheral);
  }

  set deviceName(name: string) {
    this.#valid();
    this.#deviceName = name;
    air.deviceName = name;
  }
  get deviceName(): string {
    return this.#deviceName;
  }

  set securityParameters(o: SecurityParameters) {
    this.#valid();
    const { encryption = true, bonding = false, mitm = false, ioCapability = 0 } = o;
    air.security = { encryption, bonding, mitm, ioCapability };
  }

  get localAddress(): Bytes {
    this.#valid();
    return new Bytes(this.#localAddress);
  }

  startAdvertising(options: { advertisingData: Record<string, unknown>; scanResponseData?: Record<string, unknown> | null; fast?: boolean; notify?: boolean }): void {
    this.#valid();
    const flags = (options.advertisingData.flags as number | undefined) ?? NO_BR_EDR;
    const data = serializeAdvertisement(options.advertisingData);
    const scan = options.scanResponseData ? serializeAdvertisement(options.scanResponseData) : undefined;
    let dataOk = data.byteLength <= MAX_AD_BYTES;
    let scanOk = !scan || scan.byteLength <= MAX_AD_BYTES;
    if (!dataOk || !scanOk) air.counters.advDataTooLong++;
    // before the host stack synced (onReady) NimBLE refuses to advertise; one connection
    // at most: the controller refuses to advertise while linked
    if (!this.#ready || this.#link) return;
    if (!this.#adv) air.counters.advertiseStarts++;
    this.#adv = {
      connectable: (flags & (LE_LIMITED_DISCOVERABLE_MODE | LE_GENERAL_DISCOVERABLE_MODE)) !== 0,
      data: parseAdvertisement(dataOk ? data : undefined),
      scanResponse: parseAdvertisement(scanOk && scan ? scan : undefined),
    };
  }

  stopAdvertising(): void {
    this.#valid();
    this.#adv = undefined;
  }

  /** Sends `value` (converted by the characteristic's JSON type) to the connected central. Silently dropped when nobody is connected, as the SDK does. */
  notifyValue(characteristic: Characteristic, value: unknown): void {
    this.#valid();
    const buf = typedValueToBuffer(characteristic.type, value);
    if (!(buf instanceof ArrayBuffer)) throw new TypeError('notifyValue: value must convert to an ArrayBuffer');
    const l = this.#link;
    if (!l) {
      air.counters.notifyNoLink++;
      return;
    }
    let bytes = new Uint8Array(buf.slice(0)); // the stack copies into an mbuf
    if (bytes.length > l.mtu - 3) {
      air.counters.notifyTruncated++;
      bytes = bytes.slice(0, l.mtu - 3);
    }
    const ch = this.#byHandle(characteristic.handle);
    if (!ch) return;
    air.counters.notifies++;
    air.log.push({ dir: 'to-phone', op: 'notify', connection: l.conn, characteristic: ch.name, value: bytes.slice() });
    if (!l.subscribed.has(ch.valueHandle)) {
      // sent over the air, but the phone's OS drops a notification it did not ask for
      air.counters.notifyUnsubscribed++;
      return;
    }
    // on the air a moment later; a notification sent before a disconnect still arrives
    // (the link-layer terminate follows the queued data)
    setImmediate(() => l.central.notified(ch, bytes));
  }

  /** Terminates the connection; onDisconnected follows. */
  disconnect(): void {
    this.#valid();
    const l = this.#link;
    if (l) this.#drop(l.conn, true);
  }

  /** The SDK's dispatcher (bleserver.js `callback`), kept so subclasses behave the same. */
  callback(event: string, options?: Record<string, unknown>): unknown {
    switch (event) {
      case 'onReady':
        this.onReady?.();
        break;
      case 'onCharacteristicWritten': {
        const o = options!;
        this.onCharacteristicWritten?.(
          { uuid: new Bytes(o.uuid as ArrayBuffer), handle: o.handle as number, name: o.name as string, type: o.type as string },
          typedBufferToValue(o.type as string | undefined, o.value as ArrayBuffer),
        );
        break;
      }
      case 'onCharacteristicRead': {
        const o = options!;
        const value = this.onCharacteristicRead?.({ uuid: new Bytes(o.uuid as ArrayBuffer), handle: o.handle as number, name: o.name as string, type: o.type as string });
        if (value !== undefined) return typedValueToBuffer(o.type as string | undefined, value);
        break;
      }
      case 'onCharacteristicNotifyEnabled':
        this.onCharacteristicNotifyEnabled?.(options as unknown as Characteristic);
        break;
      case 'onCharacteristicNotifyDisabled':
        this.onCharacteristicNotifyDisabled?.(options as unknown as Characteristic);
        break;
      case 'onMTUExchanged':
        this.onMTUExchanged?.(options as unknown as number);
        break;
      case 'onConnected':
        this.onConnected?.({ address: new Bytes(options!.address as ArrayBuffer), addressType: options!.addressType as number, connection: options!.connection as number });
        break;
      case 'onDisconnected':
        this.onDisconnected?.({ address: new Bytes(options!.address as ArrayBuffer), addressType: options!.addressType as number, connection: options!.connection as number });
        break;
    }
    return undefined;
  }

  // ---------------------------------------------------------------- the stack

  #valid(): void {
    if (this.#closed) throw new Error('instance closed');
  }

  /** modMessagePostToMachine: one JS message, later, in order; dropped once closed. */
  #post(fn: () => void): void {
    setImmediate(() => {
      if (this.#closed) return;
      this.#run(fn);
    });
  }

  #run<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      air.counters.jsExceptions++;
      process.stderr.write(`# bleserver (sim): exception in a callback: ${e instanceof Error ? e.name + ': ' + e.message : 'non-Error'}\n`);
      return undefined;
    }
  }

  #byHandle(handle: number): GattChar | undefined {
    for (const s of this.#table) for (const c of s.characteristics) if (c.valueHandle === handle) return c;
    return undefined;
  }

  #linkFor(conn: number): Link {
    const l = this.#link;
    if (!l || l.conn !== conn) throw new AttError(0x0e, 'not connected'); // unlikely error: the link is gone
    return l;
  }

  #connectFrom(central: AirLink): number | 'NOT_ADVERTISING' | 'BUSY' {
    if (this.#closed || !this.#adv || !this.#adv.connectable) {
      air.counters.refusedConnects++;
      return 'NOT_ADVERTISING';
    }
    if (this.#link) {
      air.counters.refusedConnects++;
      return 'BUSY';
    }
    const conn = nextConnection++;
    const l: Link = { conn, central, mtu: Math.min(central.mtu, STACK_MTU), subscribed: new Set() };
    this.#link = l;
    this.#adv = undefined; // undirected advertising ends with the connection
    air.counters.connects++;
    const address = central.address.slice(0);
    this.#post(() => this.callback('onConnected', { address, addressType: 1, connection: conn }));
    // the phone's MTU exchange follows the connection (BLE_GAP_EVENT_MTU); 23 is the default, no exchange
    if (l.mtu > 23) this.#post(() => this.#link === l && this.callback('onMTUExchanged', l.mtu as unknown as Record<string, unknown>));
    return conn;
  }

  #drop(conn: number, byToy: boolean): void {
    const l = this.#link;
    if (!l || l.conn !== conn) return;
    this.#link = undefined;
    air.counters.disconnects++;
    if (byToy) setImmediate(() => l.central.dropped(l.conn)); // after notifications already sent
    const address = l.central.address.slice(0);
    this.#post(() => this.callback('onDisconnected', { address, addressType: 1, connection: conn }));
  }

  #attError(att: number, what: string): AttError {
    air.counters.attErrors++;
    return new AttError(att, what);
  }

  #writeFrom(conn: number, ch: GattChar, value: Uint8Array): void {
    const l = this.#linkFor(conn);
    if (!ch.properties.has('write') && !ch.properties.has('writeWithoutResponse')) throw this.#attError(ATT.WRITE_NOT_PERMITTED, `write not permitted: ${ch.name}`);
    if (value.length > MAX_ATTR_BYTES) throw this.#attError(ATT.INVALID_ATTRIBUTE_VALUE_LENGTH, `value too long: ${value.length}`);
    air.counters.writes++;
    const copy = value.slice();
    air.log.push({ dir: 'to-toy', op: 'write', connection: l.conn, characteristic: ch.name, value: copy.slice() });
    const uuid = ch.uuidBytes.slice(0);
    this.#post(() => this.callback('onCharacteristicWritten', { uuid, handle: ch.valueHandle, name: ch.name, type: ch.type, value: copy.buffer }));
  }

  #readFrom(conn: number, ch: GattChar): Promise<Uint8Array> {
    let l: Link;
    try {
      l = this.#linkFor(conn);
      if (!ch.properties.has('read')) throw this.#attError(ATT.READ_NOT_PERMITTED, `read not permitted: ${ch.name}`);
    } catch (e) {
      return Promise.reject(e);
    }
    air.counters.reads++;
    if (ch.staticValue) {
      const v = new Uint8Array(ch.staticValue.slice(0));
      air.log.push({ dir: 'to-phone', op: 'read', connection: l.conn, characteristic: ch.name, value: v.slice() });
      return new Promise((r) => setImmediate(() => r(v)));
    }
    return new Promise((resolve, reject) => {
      setImmediate(() => {
        if (this.#closed || this.#link !== l) return reject(this.#attError(0x0e, 'link dropped during read'));
        const uuid = ch.uuidBytes.slice(0);
        const result = this.#run(() => this.callback('onCharacteristicRead', { uuid, handle: ch.valueHandle, name: ch.name, type: ch.type }));
        if (!(result instanceof ArrayBuffer)) return reject(this.#attError(ATT.INSUFFICIENT_RESOURCES, `no value for ${ch.name}`));
        const v = new Uint8Array(result.slice(0, MAX_ATTR_BYTES));
        air.log.push({ dir: 'to-phone', op: 'read', connection: l.conn, characteristic: ch.name, value: v.slice() });
        resolve(v);
      });
    });
  }

  #subscribeFrom(conn: number, ch: GattChar, on: boolean): void {
    const l = this.#linkFor(conn);
    if (!ch.properties.has('notify') && !ch.properties.has('indicate')) throw this.#attError(ATT.WRITE_NOT_PERMITTED, `not notifiable: ${ch.name}`);
    if (on) l.subscribed.add(ch.valueHandle);
    else l.subscribed.delete(ch.valueHandle);
    const uuid = ch.uuidBytes.slice(0);
    this.#post(() => {
      if (this.#link !== l) return; // notificationStateEvent: a state for another connection is ignored
      this.callback(on ? 'onCharacteristicNotifyEnabled' : 'onCharacteristicNotifyDisabled', { uuid, name: ch.name, type: ch.type, handle: ch.valueHandle, notify: on ? 1 : 0 });
    });
  }
}

export default BLEServer;
