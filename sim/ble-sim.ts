/**
 * An in-process fake BLE radio for the simulator and the tests: a peripheral
 * (SimBlePeripheral, the toy's BlePeripheralPort) and any number of simulated
 * phones (SimCentral, a PhoneTransport for phone/phone-pairing.ts) that can
 * connect to it while it advertises.
 *
 * What it models of a real radio: a central can connect only while the
 * peripheral advertises (or, with `race: true`, in the instant before the
 * peripheral stopped advertising: how a second phone can slip in); writes reach
 * the peripheral whole and synchronously (as the Moddable stack delivers them
 * on the JS thread), copied (the radio owns no caller buffer); a notification
 * longer than the link's MTU-3 bytes is refused ('FULL'), as ATT would truncate
 * it (the MTU is the central's own, default the radio's); a dropped
 * connection tells both sides. It keeps counters and an air log (what an
 * eavesdropper would have seen: every byte both ways) for tests.
 *
 * No Node imports: it also runs inside XS (tests/pairing.xs.ts, the bench).
 */
import type { BleEvent, BlePeripheralPort, PortStatus } from '../hal/ports.js';
import { PairingError } from '../src/pairing-protocol.js';
import type { PhoneTransport } from '../phone/phone-pairing.js';

export interface AirRecord {
  dir: 'to-toy' | 'to-phone';
  connection: number;
  characteristic: string;
  value: Uint8Array;
}

export interface SimBleOptions {
  /** ATT MTU negotiated by every central (default 185, iOS's usual). */
  mtu?: number;
}

/** The toy's radio. */
export class SimBlePeripheral implements BlePeripheralPort {
  /** The advertised name while advertising, else undefined. */
  advertising: string | undefined;
  readonly mtu: number;
  readonly air: AirRecord[] = [];
  readonly counters = { advertiseStarts: 0, connects: 0, refusedConnects: 0, notifies: 0, notifyOff: 0, notifyTooLong: 0, disconnects: 0 };
  private handler: ((e: BleEvent) => void) | undefined;
  private readonly links = new Map<number, SimCentral>();
  private nextConn = 1;
  private closed = false;

  constructor(opts: SimBleOptions = {}) {
    this.mtu = opts.mtu ?? 185;
  }

  startAdvertising(name: string): void {
    if (this.closed) return;
    if (this.advertising === undefined) this.counters.advertiseStarts++;
    this.advertising = name;
  }
  stopAdvertising(): void {
    this.advertising = undefined;
  }
  notify(characteristic: string, value: Uint8Array): PortStatus {
    const first = this.links.entries().next();
    if (first.done) {
      this.counters.notifyOff++;
      return 'OFF';
    }
    const [conn, central] = first.value;
    if (value.length > (central.mtu ?? this.mtu) - 3) {
      this.counters.notifyTooLong++;
      return 'FULL';
    }
    this.counters.notifies++;
    const copy = value.slice();
    this.air.push({ dir: 'to-phone', connection: conn, characteristic, value: copy });
    central.deliver(characteristic, copy.slice());
    return 'OK';
  }
  disconnect(connection?: number): void {
    const conn = connection ?? this.links.keys().next().value;
    if (conn === undefined) return;
    this.drop(conn);
  }
  onEvent(handler: (e: BleEvent) => void): void {
    this.handler = handler;
  }
  close(): void {
    if (this.closed) return;
    for (const c of [...this.links.keys()]) this.drop(c);
    this.advertising = undefined;
    this.closed = true;
  }

  /** Live connection ids. */
  connections(): number[] {
    return [...this.links.keys()];
  }

  // ---- used by SimCentral
  /** @internal */
  attach(central: SimCentral, race: boolean): number | 'NOT_ADVERTISING' {
    if (this.closed || (this.advertising === undefined && !race)) {
      this.counters.refusedConnects++;
      return 'NOT_ADVERTISING';
    }
    const conn = this.nextConn++;
    this.links.set(conn, central);
    this.counters.connects++;
    this.emit({ kind: 'connect', connection: conn });
    return conn;
  }
  /** @internal */
  drop(conn: number): void {
    const central = this.links.get(conn);
    if (!central) return;
    this.links.delete(conn);
    this.counters.disconnects++;
    central.detached();
    this.emit({ kind: 'disconnect', connection: conn });
  }
  /** @internal */
  write(conn: number, characteristic: string, value: Uint8Array): void {
    const copy = value.slice();
    this.air.push({ dir: 'to-toy', connection: conn, characteristic, value: copy.slice() });
    this.emit({ kind: 'write', connection: conn, characteristic, value: copy });
  }
  /** @internal */
  read(conn: number, characteristic: string): Uint8Array {
    let out = new Uint8Array(0);
    this.emit({ kind: 'read', connection: conn, characteristic, reply: (v) => (out = v.slice()) });
    return out;
  }
  /** @internal */
  isLinked(conn: number): boolean {
    return this.links.has(conn);
  }

  private emit(e: BleEvent): void {
    // Handlers must not throw; a simulated stack would swallow and log it.
    try {
      this.handler?.(e);
    } catch {
      /* counted by the handler's owner */
    }
  }
}

/** A simulated phone (BLE central). */
export class SimCentral implements PhoneTransport {
  private conn: number | undefined;
  private readonly queues = new Map<string, Uint8Array[]>();
  /** Every notification received, in order. */
  readonly received: { characteristic: string; value: Uint8Array }[] = [];
  disconnectedByPeer = 0;
  /** ATT MTU this phone negotiates (undefined: the radio's default). */
  readonly mtu: number | undefined;

  constructor(private readonly radio: SimBlePeripheral, opts: { mtu?: number } = {}) {
    this.mtu = opts.mtu;
  }

  get connected(): boolean {
    return this.conn !== undefined && this.radio.isLinked(this.conn);
  }
  get connection(): number | undefined {
    return this.conn;
  }

  /** Connects; 'NOT_ADVERTISING' when the toy is not advertising (race: connect anyway, as if just before it stopped); 'DROPPED' when the toy dropped the link at once. */
  connect(opts: { race?: boolean } = {}): 'OK' | 'NOT_ADVERTISING' | 'BUSY' | 'DROPPED' {
    if (this.connected) return 'BUSY';
    const r = this.radio.attach(this, opts.race === true);
    if (r === 'NOT_ADVERTISING') return r;
    this.conn = r;
    return this.connected ? 'OK' : 'DROPPED';
  }

  /** The phone goes away (walks out of range, app killed). */
  disconnect(): void {
    if (this.conn !== undefined) this.radio.drop(this.conn);
    this.conn = undefined;
  }

  async write(characteristic: string, value: Uint8Array): Promise<void> {
    this.writeNow(characteristic, value);
  }

  /** Synchronous write (tests). Throws PairingError('CLOSED') when not connected. */
  writeNow(characteristic: string, value: Uint8Array): void {
    if (!this.connected) throw new PairingError('CLOSED', 'not connected');
    this.radio.write(this.conn!, characteristic, value);
  }

  async read(characteristic: string): Promise<Uint8Array> {
    if (!this.connected) throw new PairingError('CLOSED', 'not connected');
    return this.radio.read(this.conn!, characteristic);
  }

  /** The toy answers synchronously in this radio: a notification not already queued will not come. */
  async nextNotification(characteristic: string): Promise<Uint8Array> {
    const v = this.take(characteristic);
    if (v) return v;
    throw new PairingError('TIMEOUT', `no notification on ${characteristic}`);
  }

  /** Takes the oldest queued notification on `characteristic`, if any. */
  take(characteristic: string): Uint8Array | undefined {
    return this.queues.get(characteristic)?.shift();
  }

  /** @internal */
  deliver(characteristic: string, value: Uint8Array): void {
    this.received.push({ characteristic, value });
    let q = this.queues.get(characteristic);
    if (!q) this.queues.set(characteristic, (q = []));
    q.push(value);
  }
  /** @internal */
  detached(): void {
    this.conn = undefined;
    this.disconnectedByPeer++;
  }
}
