/**
 * BlePeripheralPort on the Moddable SDK's `bleserver` and `sm` (ESP32: NimBLE).
 * The GATT table comes from bleservices/pawpost-pairing.json (compiled by
 * mcconfig through the manifest's "ble" key); characteristics are addressed by
 * their JSON names (`info`, `pair`, `session`).
 *
 * Security parameters: Just Works, no MITM, no bonding, NoInputNoOutput. The toy
 * has one button and an LED, so link-layer pairing could never authenticate the
 * phone; the application does it (docs/PROTOCOL.md "## Pairing"). No bonding
 * means no long-term link keys in NVS for a factory reset to forget; stale bonds
 * from an older firmware are deleted at start (SM.deleteAllBondings). The
 * characteristics use plain `read`/`write` permissions so that phones do not
 * raise an OS pairing dialog that would add nothing.
 *
 * ATT MTU: 23 from each connection until the stack reports the phone's exchange
 * (onMTUExchanged); notify() answers 'FULL' for a value longer than MTU-3 instead
 * of letting the stack cut it off, so the pairing service can name the problem
 * (wire error MTU) rather than send a truncated M2.
 *
 * Composition, not inheritance: BLEServer's own startAdvertising/disconnect have
 * other signatures than the port's. Callbacks from the stack never throw: a
 * handler exception goes to `onError`.
 *
 * The triple-slash references above pull in the BLE typings explicitly:
 * tsconfig.firmware.json's `exclude: ["node_modules"]` drops its own
 * `node_modules/@moddable/typings/**` include.
 */
import BLEServer from 'bleserver';
import { uuid } from 'btutils';
import type { Characteristic, Client } from 'gatt';
import { IOCapability, SM } from 'sm';
import type { BleEvent, BlePeripheralPort, PortStatus } from './ports.js';

/** The pairing service UUID (src/pairing-protocol.ts PAIRING_SERVICE_UUID). */
const SERVICE_UUID = uuid`7A3F0001-5061-7750-6F73-742D70616972`;
/** ATT MTU before any exchange (Bluetooth Core, ATT_MTU default for LE). */
const DEFAULT_ATT_MTU = 23;

export interface ModdableBleOptions {
  /** GAP device name (default "PawPost"). */
  deviceName?: string;
  /** Exceptions thrown by the event handler (never re-thrown into the stack). */
  onError?: (e: unknown) => void;
}

class Server extends BLEServer {
  constructor(private readonly owner: ModdableBle) {
    super();
  }
  override onReady(): void {
    this.owner.ready();
  }
  override onConnected(device: Client): void {
    this.owner.connected(device.connection);
  }
  override onDisconnected(device: Client): void {
    this.owner.disconnected(device.connection);
  }
  override onCharacteristicNotifyEnabled(characteristic: Characteristic): void {
    this.owner.notifyEnabled(characteristic);
  }
  override onCharacteristicWritten(characteristic: Characteristic, value: unknown): void {
    this.owner.written(characteristic.name, value);
  }
  override onCharacteristicRead(characteristic: Characteristic): Uint8Array | void {
    return this.owner.readRequested(characteristic.name);
  }
  /** Not in @moddable/typings 5.6, but called by bleserver.js. */
  onCharacteristicNotifyDisabled(characteristic: Characteristic): void {
    this.owner.notifyDisabled(characteristic);
  }
  /** Not in @moddable/typings 5.6; bleserver.js calls it with the negotiated ATT MTU (a number). */
  onMTUExchanged(mtu: number): void {
    this.owner.mtuExchanged(mtu);
  }
}

export class ModdableBle implements BlePeripheralPort {
  private readonly server: Server;
  private handler: ((e: BleEvent) => void) | undefined;
  private isReady = false;
  private wantName: string | undefined;
  private advertising = false;
  private conn: number | undefined;
  /** ATT MTU of the current connection (23 until exchanged). */
  private mtu = DEFAULT_ATT_MTU;
  private readonly notifiable = new Map<string, Characteristic>();
  private closed = false;

  constructor(private readonly o: ModdableBleOptions = {}) {
    this.server = new Server(this);
  }

  // ---- BlePeripheralPort

  startAdvertising(name: string): void {
    if (this.closed) return;
    this.wantName = name;
    if (!this.isReady || this.advertising) return;
    this.server.startAdvertising({
      // flags 6: LE General Discoverable, BR/EDR not supported. The 128-bit UUID fills
      // most of the 31-byte packet, so the name goes into the scan response.
      advertisingData: { flags: 6, completeUUID128List: [SERVICE_UUID] },
      scanResponseData: { completeName: name },
    });
    this.advertising = true;
  }

  stopAdvertising(): void {
    this.wantName = undefined;
    if (!this.isReady || !this.advertising) return;
    this.server.stopAdvertising();
    this.advertising = false;
  }

  notify(characteristic: string, value: Uint8Array): PortStatus {
    const chr = this.notifiable.get(characteristic);
    if (this.closed || this.conn === undefined || !chr) return 'OFF';
    if (value.length > this.mtu - 3) return 'FULL'; // the stack would truncate it
    // The JSON declares Uint8Array values: bleserver sends `value.buffer`, so pass a
    // copy that owns its whole buffer (a subarray would send its parent). The stack copies.
    this.server.notifyValue(chr, value.slice());
    return 'OK';
  }

  disconnect(connection?: number): void {
    if (this.conn === undefined || (connection !== undefined && connection !== this.conn)) return;
    this.server.disconnect();
  }

  onEvent(handler: (e: BleEvent) => void): void {
    this.handler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.server.close();
  }

  // ---- from Server (stack callbacks)

  /** @internal */
  ready(): void {
    this.isReady = true;
    this.server.deviceName = this.o.deviceName ?? 'PawPost';
    this.server.securityParameters = { encryption: false, bonding: false, mitm: false, ioCapability: IOCapability.NoInputNoOutput };
    SM.deleteAllBondings();
    if (this.wantName !== undefined) this.startAdvertising(this.wantName);
  }
  /** @internal */
  connected(connection: number): void {
    // The stack stops advertising when a central connects (one connection at most).
    this.advertising = false;
    this.conn = connection;
    this.mtu = DEFAULT_ATT_MTU;
    this.emit({ kind: 'connect', connection });
  }
  /** @internal */
  disconnected(connection: number): void {
    if (connection === this.conn) this.conn = undefined;
    this.notifiable.clear();
    this.emit({ kind: 'disconnect', connection });
  }
  /** @internal */
  mtuExchanged(mtu: number): void {
    if (typeof mtu === 'number' && mtu >= DEFAULT_ATT_MTU && mtu <= 517) this.mtu = mtu;
  }
  /** @internal */
  notifyEnabled(characteristic: Characteristic): void {
    this.notifiable.set(characteristic.name, characteristic);
  }
  /** @internal */
  notifyDisabled(characteristic: Characteristic): void {
    this.notifiable.delete(characteristic.name);
  }
  /** @internal */
  written(name: string, value: unknown): void {
    if (this.conn === undefined) return;
    let bytes: Uint8Array;
    // The JSON declares Uint8Array, so bleserver hands a Uint8Array over the received bytes.
    if (value instanceof Uint8Array) bytes = value;
    else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value);
    else bytes = new Uint8Array(0); // a type the JSON does not declare: handled as malformed
    this.emit({ kind: 'write', connection: this.conn, characteristic: name, value: bytes });
  }
  /** @internal The returned array owns its whole buffer (bleserver sends `value.buffer`). */
  readRequested(name: string): Uint8Array {
    let out = new Uint8Array(0);
    if (this.conn !== undefined) this.emit({ kind: 'read', connection: this.conn, characteristic: name, reply: (v) => (out = v.slice()) });
    return out;
  }

  private emit(e: BleEvent): void {
    try {
      this.handler?.(e);
    } catch (err) {
      this.o.onError?.(err);
    }
  }
}
