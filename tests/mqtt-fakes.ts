/**
 * A scriptable in-process MQTT broker and the SocketPort that reaches it, driven by
 * a ManualClock (bytes arrive `latencyMs` after they were written, never inside the
 * write call). It speaks MQTT with src/mqtt-codec.ts on the broker's side and keeps
 * a persistent session per client id: QoS 1 deliveries not acknowledged are sent
 * again (DUP) after a reconnect. Portable: used by the ava tier and the XS tier.
 *
 * Failure switches: `up` (refuse TCP), `refuseCode` (CONNACK), `denySubscribe`,
 * `ackPublishes` (withhold PUBACKs), `answerPings`, `inject(bytes)` (raw bytes to
 * the client, e.g. a malformed packet), `cut()` (the network drops).
 *
 * Lean mode (`startLean()`, benches only: bench/xs/toy-entry.ts): from then on the
 * broker allocates nothing, so the heap growth of a run is the toy's own. Bytes the
 * client writes are not copied, parsed into objects or kept: each write is scanned
 * in place for a QoS 1 PUBLISH (its packet id goes into a fixed ring) or a PINGREQ;
 * every 5 ms one harness timer answers with PUBACKs (up to 8 in one lent,
 * preallocated buffer and event) and PINGRESP. Counted: `leanPublishes`, `leanBytes`.
 */
import type { ClockPort, PortStatus, SocketEvent, SocketPort } from '../hal/ports.js';
import { MqttParser, encode, type ConnectPacket, type MqttPacket, type PublishPacket } from '../src/mqtt-codec.js';

interface Delivery { topic: string; payload: Uint8Array; messageId: number; sent: boolean }

export class FakeBroker {
  up = true;
  refuseCode = 0;
  denySubscribe = false;
  ackPublishes = true;
  /** PUBLISHes from clients are lost on the way: neither recorded nor acknowledged (a silent link). */
  dropPublishes = false;
  answerPings = true;
  /** Every PUBLISH a client sent (copies), in order, with DUP flags as sent. */
  readonly published: { clientId: string; topic: string; payload: Uint8Array; dup: boolean; messageId?: number; retain?: boolean }[] = [];
  readonly connects: ConnectPacket[] = [];
  readonly subscriptions = new Map<string, string[]>();
  /** Retained messages by exact topic: handed to a client when it subscribes to that topic (issue 14). */
  readonly retained = new Map<string, Uint8Array>();
  /** Counts of packets by cmd received from clients. */
  readonly rx: Record<string, number> = {};
  private readonly pending = new Map<string, Delivery[]>();
  private nextId = 1;
  current: FakeSocket | undefined;

  constructor(readonly clock: ClockPort, readonly latencyMs = 1) {}

  /** Lean mode (see the header): on, and what it saw. */
  lean = false;
  leanPublishes = 0;
  leanBytes = 0;
  private readonly leanIds = new Uint16Array(64);
  private leanHead = 0;
  private leanCount = 0;
  private leanPing = false;
  private readonly leanAckEvents: SocketEvent[] = [];
  private readonly leanAckBufs: Uint8Array[] = [];
  private readonly leanPingEvent: SocketEvent = { kind: 'data', data: new Uint8Array([0xd0, 0x00]) };

  /** Switches to lean mode for good (benches). */
  startLean(): void {
    if (this.lean) return;
    this.lean = true;
    for (let k = 0; k <= 8; k++) {
      const b = new Uint8Array(4 * k);
      this.leanAckBufs.push(b);
      this.leanAckEvents.push({ kind: 'data', data: b });
    }
    this.clock.every(5, () => this.leanTick());
  }

  /** Lean mode: scans one write in place; never allocates. */
  leanWrite(bytes: Uint8Array): void {
    this.leanBytes += bytes.length;
    let o = 0;
    while (o + 2 <= bytes.length) {
      const type = bytes[o]! >> 4;
      const qos = (bytes[o]! >> 1) & 3;
      let len = 0;
      let mul = 1;
      let i = o + 1;
      for (;;) {
        const d = bytes[i++]!;
        len += (d & 0x7f) * mul;
        mul *= 128;
        if (!(d & 0x80) || i >= bytes.length) break;
      }
      if (type === 3) {
        this.leanPublishes++;
        if (qos === 1 && this.leanCount < this.leanIds.length) {
          const tl = (bytes[i]! << 8) | bytes[i + 1]!;
          const at = i + 2 + tl;
          this.leanIds[(this.leanHead + this.leanCount) % this.leanIds.length] = (bytes[at]! << 8) | bytes[at + 1]!;
          this.leanCount++;
        }
      } else if (type === 12) this.leanPing = true;
      o = i + len;
    }
  }

  private leanTick(): void {
    const s = this.current;
    if (!s) return;
    if (this.leanPing) {
      this.leanPing = false;
      s.deliverLent(this.leanPingEvent);
    }
    while (this.leanCount > 0) {
      const k = this.leanCount < 8 ? this.leanCount : 8;
      const b = this.leanAckBufs[k]!;
      for (let j = 0; j < k; j++) {
        const id = this.leanIds[this.leanHead]!;
        this.leanHead = (this.leanHead + 1) % this.leanIds.length;
        b[4 * j] = 0x40;
        b[4 * j + 1] = 2;
        b[4 * j + 2] = id >> 8;
        b[4 * j + 3] = id & 0xff;
      }
      this.leanCount -= k;
      s.deliverLent(this.leanAckEvents[k]!);
    }
  }

  /** Every host:port a socket was asked to connect to, in order. */
  readonly targets: string[] = [];

  socket(): FakeSocket {
    return new FakeSocket(this);
  }

  /** Queues a QoS 1 message for `clientId` (delivered now if connected and subscribed, else on reconnect). */
  deliver(clientId: string, topic: string, payload: Uint8Array): void {
    const d: Delivery = { topic, payload: payload.slice(), messageId: this.nextId++, sent: false };
    const q = this.pending.get(clientId) ?? [];
    q.push(d);
    this.pending.set(clientId, q);
    this.flushDeliveries();
  }

  pendingFor(clientId: string): number {
    return this.pending.get(clientId)?.length ?? 0;
  }

  /** Raw bytes to the connected client. */
  inject(bytes: Uint8Array): void {
    this.current?.toClient(bytes);
  }

  /** The network drops (the client sees a close with an error). */
  cut(): void {
    this.current?.serverClose('ECONNRESET');
  }

  /** Sends queued deliveries: all unacknowledged ones on a new connection, else only new ones. */
  private flushDeliveries(reconnect = false): void {
    const s = this.current;
    if (!s || !s.clientId || !s.subscribed) return;
    for (const d of this.pending.get(s.clientId) ?? []) {
      if (d.sent && !reconnect) continue;
      s.toClient(encode({ cmd: 'publish', topic: d.topic, payload: d.payload, qos: 1, dup: d.sent, retain: false, messageId: d.messageId }));
      d.sent = true;
    }
  }

  /** Called by the socket for each packet from the client. */
  handle(s: FakeSocket, p: MqttPacket): void {
    this.rx[p.cmd] = (this.rx[p.cmd] ?? 0) + 1;
    switch (p.cmd) {
      case 'connect':
        this.connects.push({ ...p, password: p.password?.slice() });
        if (this.refuseCode) {
          s.toClient(encode({ cmd: 'connack', sessionPresent: false, returnCode: this.refuseCode }));
          return;
        }
        s.clientId = p.clientId;
        s.toClient(encode({ cmd: 'connack', sessionPresent: this.subscriptions.has(p.clientId), returnCode: 0 }));
        if (this.subscriptions.has(p.clientId)) {
          s.subscribed = true;
          this.flushDeliveries(true);
        }
        return;
      case 'subscribe':
        s.toClient(encode({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map(() => (this.denySubscribe ? 0x80 : 1)) }));
        if (!this.denySubscribe) {
          for (const x of p.subscriptions) {
            const r = this.retained.get(x.topic);
            if (r) s.toClient(encode({ cmd: 'publish', topic: x.topic, payload: r, qos: 0, dup: false, retain: true }));
          }
          if (p.subscriptions.some((x) => this.retained.has(x.topic))) return;
          // a later SUBSCRIBE (e.g. a direct topic) adds to the client's topics
          const had = this.subscriptions.get(s.clientId) ?? [];
          const add = p.subscriptions.map((x) => x.topic).filter((x) => !had.includes(x));
          this.subscriptions.set(s.clientId, s.subscribed ? [...had, ...add] : p.subscriptions.map((x) => x.topic));
          if (!s.subscribed) {
            s.subscribed = true;
            this.flushDeliveries(true);
          }
        }
        return;
      case 'publish': {
        const q = p as PublishPacket;
        if (this.dropPublishes) return;
        this.published.push({ clientId: s.clientId, topic: q.topic, payload: q.payload.slice(), dup: q.dup, messageId: q.messageId, retain: q.retain });
        if (q.retain) this.retained.set(q.topic, q.payload.slice());
        if (q.qos === 1 && this.ackPublishes) s.toClient(encode({ cmd: 'puback', messageId: q.messageId! }));
        return;
      }
      case 'puback': {
        const q = this.pending.get(s.clientId) ?? [];
        const i = q.findIndex((d) => d.messageId === p.messageId && d.sent);
        if (i >= 0) q.splice(i, 1);
        return;
      }
      case 'pingreq':
        if (this.answerPings) s.toClient(encode({ cmd: 'pingresp' }));
        return;
      case 'disconnect':
        s.serverClose();
        return;
      default:
        return;
    }
  }
}

export class FakeSocket implements SocketPort {
  private handler: (e: SocketEvent) => void = () => undefined;
  private state: 'idle' | 'connecting' | 'open' = 'idle';
  private gen = 0;
  /** The current connection as the broker sees it; bytes written reach the broker while it is open. */
  private wire = { open: false };
  clientId = '';
  subscribed = false;
  connectCalls = 0;
  readonly written: Uint8Array[] = [];
  private readonly parser: MqttParser;

  constructor(private readonly broker: FakeBroker) {
    this.parser = new MqttParser({ maxPacketBytes: 1 << 16, onPacket: (p) => this.broker.handle(this, p) });
  }

  onEvent(handler: (e: SocketEvent) => void): void {
    this.handler = handler;
  }

  private later(gen: number, e: SocketEvent): void {
    this.broker.clock.after(this.broker.latencyMs, () => {
      if (gen === this.gen) this.handler(e);
    });
  }

  connect(host: string, port: number): PortStatus {
    if (this.state !== 'idle') return 'BUSY';
    this.connectCalls++;
    this.broker.targets.push(`${host}:${port}`);
    this.state = 'connecting';
    const gen = ++this.gen;
    this.broker.clock.after(this.broker.latencyMs, () => {
      if (gen !== this.gen) return;
      if (!this.broker.up) {
        this.state = 'idle';
        this.gen++;
        this.handler({ kind: 'close', error: 'ECONNREFUSED' });
        return;
      }
      this.state = 'open';
      this.wire = { open: true };
      this.clientId = '';
      this.subscribed = false;
      this.parser.reset();
      this.broker.current = this;
      this.handler({ kind: 'connect' });
    });
    return 'OK';
  }

  write(bytes: Uint8Array): PortStatus {
    if (this.state !== 'open') return 'OFF';
    if (this.broker.lean) {
      this.broker.leanWrite(bytes);
      return 'OK';
    }
    const copy = bytes.slice();
    this.written.push(copy);
    const wire = this.wire;
    this.broker.clock.after(this.broker.latencyMs, () => {
      if (wire.open) this.parser.push(copy);
    });
    return 'OK';
  }

  close(): void {
    if (this.state === 'idle') return;
    this.finish(undefined, false);
  }

  /** A power cut on the client: the connection vanishes, no event reaches anyone. */
  kill(): void {
    this.state = 'idle';
    this.gen++;
    this.endWire(false);
  }

  /** Bytes already written still arrive (they are on the wire) unless the broker side cut. */
  private endWire(now: boolean): void {
    const wire = this.wire;
    if (now) wire.open = false;
    else this.broker.clock.after(this.broker.latencyMs, () => { wire.open = false; });
    if (this.broker.current === this) this.broker.current = undefined;
  }

  /** Lean mode: hands the client a preallocated event now (its data is lent for the call). */
  deliverLent(e: SocketEvent): void {
    if (this.state === 'open') this.handler(e);
  }

  /** Broker side: bytes to the client. */
  toClient(bytes: Uint8Array): void {
    if (this.state !== 'open') return;
    this.later(this.gen, { kind: 'data', data: bytes.slice() });
  }

  /** Broker side: the connection ends. */
  serverClose(error?: string): void {
    if (this.state === 'idle') return;
    this.finish(error, true);
  }

  private finish(error: string | undefined, brokerSide = false): void {
    this.state = 'idle';
    const gen = ++this.gen;
    this.endWire(brokerSide);
    this.later(gen, error ? { kind: 'close', error } : { kind: 'close' });
  }
}

/**
 * A ClockPort in front of another that can be switched off: after `kill()` none of
 * the timers made through it fire again (the toy lost power; the world's clock goes on).
 */
export class GatedClock implements ClockPort {
  dead = false;
  constructor(private readonly inner: ClockPort) {}
  now(): number {
    return this.inner.now();
  }
  wallNow(): number {
    return this.inner.wallNow();
  }
  after(ms: number, cb: () => void) {
    return this.inner.after(ms, () => {
      if (!this.dead) cb();
    });
  }
  every(ms: number, cb: () => void) {
    return this.inner.every(ms, () => {
      if (!this.dead) cb();
    });
  }
  kill(): void {
    this.dead = true;
  }
}
