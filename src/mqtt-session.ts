/**
 * The MQTT 3.1.1 session of the toy (and of the simulated phone): connect with
 * per-device credentials, keepalive, QoS 1 publishing from the durable outbox,
 * QoS 1 subscriptions into the durable inbox, reconnection with exponential
 * backoff and jitter. Driven only by ports (SocketPort, ClockPort, RandomPort), so
 * unit tests run it on a ManualClock and a fake socket, and the XS tier runs it in
 * the real XS engine.
 *
 * Guarantees (docs/BROKER.md):
 * - An outbox record is removed only after the broker's PUBACK for it; records not
 *   acknowledged when a connection ends are sent again (DUP set) after reconnecting.
 * - A received QoS 1 PUBLISH is acknowledged only after the inbox stored it (or
 *   dropped it as a duplicate), with a persistent session (clean = false) so the
 *   broker keeps and redelivers whatever was not acknowledged.
 * - Any malformed or out-of-place packet from the broker ends the connection with a
 *   typed MqttError (onError) and a counter; the session reconnects after backoff.
 * - Callbacks from the socket and the clock never throw.
 *
 * Counters (prefix `mqtt.`): connect_attempts, online, connack_refused, sub_refused,
 * rx_malformed, rx_protocol, rx_oversize, rx_foreign_topic, rx_unknown_puback,
 * timeouts, published, acked, received, duplicates, socket_closed, tx_full.
 * Portable.
 */
import type { ClockPort, LogPort, RandomPort, SocketEvent, SocketPort, TimerHandle } from '../hal/ports.js';
import type { Counters } from './counters.js';
import type { Inbox } from './inbox.js';
import { MqttError, MqttParser, encodePacket, encodePublishFrom, type MqttPacket, type PublishPacket, type QoS } from './mqtt-codec.js';
import type { Outbox } from './outbox.js';

/** Where the session is. */
export type MqttSessionState =
  | 'idle' // not started
  | 'waiting' // offline, a reconnect is scheduled
  | 'connecting' // TCP/TLS connecting
  | 'handshake' // CONNECT sent, waiting for CONNACK
  | 'online' // CONNACK accepted
  | 'closed'; // close() was called

export interface MqttSessionOptions {
  socket: SocketPort;
  clock: ClockPort;
  /** For the backoff jitter. */
  random: RandomPort;
  host: string;
  port: number;
  /** Client id; the broker is configured to force it to equal the username. */
  clientId: string;
  username: string;
  /** The device's broker password (never logged). */
  password: Uint8Array | string;
  /** Topics to subscribe with QoS 1 after every CONNACK (exact topics or filters). */
  subscriptions: string[];
  outbox: Outbox;
  inbox: Inbox;
  /** Keepalive in seconds, 10..65535. Default 60. */
  keepaliveSec?: number;
  /** Unacknowledged publishes at once, 1..16. Default 4. */
  maxInflight?: number;
  /** Largest packet accepted or sent, bytes. Default 4200 (a 4000-byte record plus headers). */
  maxPacketBytes?: number;
  /** CONNACK must come within this. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** A PUBACK or PINGRESP must come within this. Default 30 000 ms. */
  ackTimeoutMs?: number;
  /** First reconnect delay; doubles per failure up to maxBackoffMs. Default 1000 ms. */
  initialBackoffMs?: number;
  /** Default 120 000 ms. */
  maxBackoffMs?: number;
  /** After this long online, the backoff starts from initialBackoffMs again. Default 30 000 ms. */
  stableMs?: number;
  counters?: Counters;
  log?: LogPort;
  /** Every error, typed. Must not throw. */
  onError?: (e: MqttError) => void;
  /** State changes. Must not throw. */
  onState?: (s: MqttSessionState) => void;
  /**
   * PUBLISHes on topics added with subscribe() (firmware update topics, issue 14):
   * handed over directly, never stored in the inbox, acknowledged after the call
   * returns. A throw is caught and counted (`mqtt.callback_threw`).
   */
  onDirectMessage?: (topic: string, payload: Uint8Array) => void;
  /**
   * Online status on a retained topic (issue 15, docs/BROKER.md "Toy status"): `offline()` is the
   * last will of every CONNECT (retained, QoS 1: the broker publishes it when the link dies),
   * `online()` is published retained (QoS 0) after the SUBACK of each connection (the broker queues for the toy from then on), and `offline()` again before a
   * clean DISCONNECT (which discards the will). A throwing callback sends no status (counted).
   */
  status?: { topic: string; online: () => Uint8Array; offline: () => Uint8Array };
}

interface Inflight { recordId: string; messageId: number; sentAt: number }

const enc = new TextEncoder();
const TICK_MS = 1000;

export class MqttSession {
  private readonly o: Required<Omit<MqttSessionOptions, 'counters' | 'log' | 'onError' | 'onState' | 'onDirectMessage' | 'status'>>;
  private readonly status: MqttSessionOptions['status'];
  private readonly onDirect: ((topic: string, payload: Uint8Array) => void) | undefined;
  /** Exact topics added with subscribe(); re-subscribed after every CONNACK. */
  private readonly directSet = new Set<string>();
  /** Ids of SUBSCRIBE / UNSUBSCRIBE packets for directSet awaiting their ack. */
  private readonly directIds = new Set<number>();
  private readonly counters: Counters | undefined;
  private readonly log: LogPort | undefined;
  private readonly onErrorCb: ((e: MqttError) => void) | undefined;
  private readonly onStateCb: ((s: MqttSessionState) => void) | undefined;
  private readonly password: Uint8Array;
  private readonly parser: MqttParser;
  private readonly txBuf: Uint8Array;
  /** A PUBACK packet (0x40, 2, id high, id low), patched per received chunk. */
  private readonly pubackBytes = Uint8Array.of(0x40, 2, 0, 0);
  private readonly txQueue: Uint8Array[] = [];
  private readonly rnd = new Uint8Array(4);
  private readonly subscriptionSet: Set<string>;
  private _state: MqttSessionState = 'idle';
  private attempt = 0;
  private reconnectTimer: TimerHandle | undefined;
  private tickTimer: TimerHandle | undefined;
  /** We closed the socket and its 'close' event has not come yet. */
  private closing = false;
  private connectWhenClosed = false;
  private connectStartedAt = 0;
  private onlineSince = 0;
  private lastTx = 0;
  private pingSentAt = -1;
  private nextId = 1;
  private subId = 0;
  private readonly inflight: Inflight[] = [];
  /** Outbox records sent at least once (DUP on resend). */
  private readonly sentOnce = new Set<string>();
  private readonly txViews = new Map<number, Uint8Array>();
  /** In-flight entries acknowledged, kept for reuse (at most maxInflight). */
  private readonly spare: Inflight[] = [];

  constructor(opts: MqttSessionOptions) {
    const keepaliveSec = opts.keepaliveSec ?? 60;
    if (!(keepaliveSec >= 10 && keepaliveSec <= 65535)) throw new MqttError('INVAL', 'keepaliveSec must be 10..65535');
    const maxInflight = opts.maxInflight ?? 4;
    if (!(maxInflight >= 1 && maxInflight <= 16)) throw new MqttError('INVAL', 'maxInflight must be 1..16');
    if (opts.subscriptions.length === 0) throw new MqttError('INVAL', 'at least one subscription');
    this.o = {
      socket: opts.socket, clock: opts.clock, random: opts.random, host: opts.host, port: opts.port,
      clientId: opts.clientId, username: opts.username, password: opts.password,
      subscriptions: opts.subscriptions.slice(), outbox: opts.outbox, inbox: opts.inbox,
      keepaliveSec, maxInflight,
      maxPacketBytes: opts.maxPacketBytes ?? 4200,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10000,
      ackTimeoutMs: opts.ackTimeoutMs ?? 30000,
      initialBackoffMs: opts.initialBackoffMs ?? 1000,
      maxBackoffMs: opts.maxBackoffMs ?? 120000,
      stableMs: opts.stableMs ?? 30000,
    };
    this.counters = opts.counters;
    this.log = opts.log;
    this.onErrorCb = opts.onError;
    this.onStateCb = opts.onState;
    this.onDirect = opts.onDirectMessage;
    this.status = opts.status;
    this.password = typeof opts.password === 'string' ? enc.encode(opts.password) : opts.password.slice();
    this.subscriptionSet = new Set(this.o.subscriptions);
    this.txBuf = new Uint8Array(this.o.maxPacketBytes);
    this.parser = new MqttParser({
      maxPacketBytes: this.o.maxPacketBytes,
      onPacket: (p) => this.onPacket(p),
      onOversize: (topic, qos, id) => this.onOversize(topic, qos, id),
      reusePublish: true, // onPublish reads the packet during the call only (issue 13)
    });
    this.o.socket.onEvent((e) => this.onSocket(e));
    this.o.outbox.onAdd(() => this.pump());
  }

  get state(): MqttSessionState {
    return this._state;
  }

  /** Publishes still unacknowledged on the current connection. */
  inflightCount(): number {
    return this.inflight.length;
  }

  /** Starts connecting (and keeps reconnecting until close()). Safe to call twice. */
  start(): void {
    if (this._state !== 'idle') return;
    this.connect();
  }

  /**
   * Stores a chunk in the outbox and sends it when online. Returns 'OK' once durable,
   * 'FULL' when the outbox is full, 'OFF' after close(). Throws MqttError (INVAL, STORAGE)
   * from the outbox.
   */
  send(topic: string, payload: Uint8Array): 'OK' | 'FULL' | 'OFF' {
    if (this._state === 'closed') return 'OFF';
    const r = this.o.outbox.add(topic, payload);
    return r === 'OK' ? 'OK' : 'FULL';
  }

  /**
   * Subscribes (QoS 1) to one exact topic whose messages go to onDirectMessage, now
   * if online and again after every reconnect, until unsubscribe(). 'OFF' after
   * close(); 'INVAL' for an empty topic, a wildcard, or more than 16 such topics.
   */
  subscribe(topic: string): 'OK' | 'OFF' | 'INVAL' {
    if (this._state === 'closed') return 'OFF';
    if (typeof topic !== 'string' || topic.length === 0 || topic.length > 200 || /[#+\u0000]/.test(topic)) return 'INVAL';
    if (this.directSet.has(topic)) return 'OK';
    if (this.directSet.size >= 16) return 'INVAL';
    this.directSet.add(topic);
    if (this._state === 'online') this.sendDirect('subscribe', [topic]);
    return 'OK';
  }

  /** Removes a subscribe() topic (UNSUBSCRIBE when online). Unknown topics are ignored. */
  unsubscribe(topic: string): void {
    if (!this.directSet.delete(topic)) return;
    if (this._state === 'online') this.sendDirect('unsubscribe', [topic]);
  }

  private sendDirect(cmd: 'subscribe' | 'unsubscribe', topics: string[]): void {
    const id = this.allocId();
    this.directIds.add(id);
    if (cmd === 'subscribe') this.sendPacket({ cmd, messageId: id, subscriptions: topics.map((topic) => ({ topic, qos: 1 as QoS })) });
    else this.sendPacket({ cmd, messageId: id, unsubscriptions: topics });
  }

  /** Sends DISCONNECT when online, closes the socket, stops reconnecting. Safe to call twice. */
  close(): void {
    if (this._state === 'closed') return;
    if (this._state === 'online') {
      this.sendStatus(false);
      this.sendPacket({ cmd: 'disconnect' });
    }
    this.stopTimers();
    this.reconnectTimer?.cancel();
    this.reconnectTimer = undefined;
    this.setState('closed');
    this.inflight.length = 0;
    this.txQueue.length = 0;
    try {
      this.o.socket.close();
    } catch {
      // closing a socket must not fail close()
    }
  }

  // ------------------------------------------------------------ connection

  private setState(s: MqttSessionState): void {
    if (this._state === s) return;
    this._state = s;
    try {
      this.onStateCb?.(s);
    } catch {
      this.counters?.inc('mqtt.callback_threw');
    }
  }

  private error(e: MqttError): void {
    this.log?.log('warn', 'mqtt.error', { code: e.code, detail: e.detail });
    try {
      this.onErrorCb?.(e);
    } catch {
      this.counters?.inc('mqtt.callback_threw');
    }
  }

  private connect(): void {
    if (this._state === 'closed') return;
    if (this.closing) {
      this.connectWhenClosed = true;
      return;
    }
    this.counters?.inc('mqtt.connect_attempts');
    this.parser.reset();
    this.txQueue.length = 0;
    this.inflight.length = 0;
    this.pingSentAt = -1;
    this.setState('connecting');
    this.connectStartedAt = this.o.clock.now();
    let st: string;
    try {
      st = this.o.socket.connect(this.o.host, this.o.port);
    } catch {
      st = 'OFF';
    }
    if (st !== 'OK') {
      this.counters?.inc('mqtt.socket_closed');
      this.scheduleReconnect();
      return;
    }
    this.startTick();
  }

  private startTick(): void {
    this.tickTimer?.cancel();
    this.tickTimer = this.o.clock.every(TICK_MS, () => this.tick());
  }

  private stopTimers(): void {
    this.tickTimer?.cancel();
    this.tickTimer = undefined;
  }

  /** Ends the current connection (if any) and schedules a reconnect. */
  private drop(e?: MqttError): void {
    if (this._state === 'closed' || this._state === 'waiting' || this._state === 'idle') return;
    if (e) this.error(e);
    const wasOnline = this._state === 'online';
    this.stopTimers();
    this.inflight.length = 0;
    this.txQueue.length = 0;
    this.directIds.clear();
    this.closing = true;
    if (wasOnline && this.o.clock.now() - this.onlineSince >= this.o.stableMs) this.attempt = 0;
    this.scheduleReconnect();
    try {
      this.o.socket.close();
    } catch {
      this.closing = false;
    }
    this.log?.log('info', 'mqtt.offline', { reason: e ? e.code : 'closed' });
  }

  private scheduleReconnect(): void {
    this.stopTimers();
    this.setState('waiting');
    const base = Math.min(this.o.maxBackoffMs, this.o.initialBackoffMs * Math.pow(2, Math.min(this.attempt, 20)));
    this.attempt++;
    this.o.random.fill(this.rnd);
    const r = (((this.rnd[0]! << 24) >>> 0) + (this.rnd[1]! << 16) + (this.rnd[2]! << 8) + this.rnd[3]!) / 4294967296;
    // "equal jitter": half fixed, half random, so many toys behind one outage do not reconnect together
    const delay = Math.floor(base / 2 + r * (base / 2));
    this.reconnectTimer?.cancel();
    this.reconnectTimer = this.o.clock.after(delay, () => {
      this.reconnectTimer = undefined;
      this.connect();
    });
  }

  private onSocket(e: SocketEvent): void {
    try {
      switch (e.kind) {
        case 'connect':
          if (this._state !== 'connecting') return;
          this.setState('handshake');
          this.connectStartedAt = this.o.clock.now();
          this.sendPacket({
            cmd: 'connect', clientId: this.o.clientId, clean: false, keepalive: this.o.keepaliveSec,
            username: this.o.username, password: this.password, will: this.statusWill(),
          });
          return;
        case 'data':
          if (this._state !== 'handshake' && this._state !== 'online') return;
          try {
            this.parser.push(e.data);
          } catch (err) {
            if (err instanceof MqttError) {
              this.counters?.inc(err.code === 'MALFORMED' || err.code === 'TOO_LARGE' ? 'mqtt.rx_malformed' : 'mqtt.rx_protocol');
              this.drop(err);
            } else {
              this.counters?.inc('mqtt.rx_protocol');
              this.drop(new MqttError('PROTOCOL', 'packet handling failed'));
            }
          }
          return;
        case 'writable':
          this.flush();
          return;
        case 'close':
          if (this.closing) {
            this.closing = false;
            if (this.connectWhenClosed) {
              this.connectWhenClosed = false;
              this.connect();
            }
            return;
          }
          if (this._state === 'closed' || this._state === 'waiting' || this._state === 'idle') return;
          this.counters?.inc('mqtt.socket_closed');
          this.drop(new MqttError('SOCKET', e.error ? 'connection lost with an error' : 'connection closed by peer'));
          // the socket is already closed: its close() above produced no further event
          this.closing = false;
          if (this.connectWhenClosed) {
            this.connectWhenClosed = false;
            this.connect();
          }
          return;
      }
    } catch {
      this.counters?.inc('mqtt.callback_threw');
    }
  }

  private tick(): void {
    const now = this.o.clock.now();
    if (this._state === 'connecting' || this._state === 'handshake') {
      if (now - this.connectStartedAt > this.o.connectTimeoutMs) {
        this.counters?.inc('mqtt.timeouts');
        this.drop(new MqttError('TIMEOUT', 'no CONNACK in time'));
      }
      return;
    }
    if (this._state !== 'online') return;
    if (this.pingSentAt >= 0 && now - this.pingSentAt > this.o.ackTimeoutMs) {
      this.counters?.inc('mqtt.timeouts');
      this.drop(new MqttError('TIMEOUT', 'no PINGRESP in time'));
      return;
    }
    const oldest = this.inflight[0];
    if (oldest && now - oldest.sentAt > this.o.ackTimeoutMs) {
      this.counters?.inc('mqtt.timeouts');
      this.drop(new MqttError('TIMEOUT', 'no PUBACK in time'));
      return;
    }
    if (this.pingSentAt < 0 && now - this.lastTx >= this.o.keepaliveSec * 1000 - TICK_MS) {
      this.pingSentAt = now;
      this.sendPacket({ cmd: 'pingreq' });
    }
  }

  // ------------------------------------------------------------ sending

  /** Encodes into the one tx buffer and writes (the socket copies). Returns false when the connection was dropped. */
  private sendPacket(p: MqttPacket): boolean {
    let n: number;
    try {
      n = encodePacket(p, this.txBuf, 0);
    } catch (e) {
      this.drop(e instanceof MqttError ? e : new MqttError('INVAL', 'cannot encode'));
      return false;
    }
    return this.writeTx(n);
  }

  /**
   * Writes txBuf[0, n) (the socket copies it). Returns false when the connection was dropped.
   * Views of the tx buffer are kept by length (up to 4): the padded chunks give few lengths,
   * so a publish makes no new view.
   */
  private writeTx(n: number): boolean {
    let bytes = this.txViews.get(n);
    if (!bytes) {
      bytes = this.txBuf.subarray(0, n);
      if (this.txViews.size < 4) this.txViews.set(n, bytes);
    }
    this.lastTx = this.o.clock.now();
    if (this.txQueue.length > 0) {
      this.txQueue.push(bytes.slice());
      return true;
    }
    const st = this.o.socket.write(bytes);
    if (st === 'OK') return true;
    if (st === 'FULL') {
      this.counters?.inc('mqtt.tx_full');
      this.txQueue.push(bytes.slice());
      return true;
    }
    this.drop(new MqttError('SOCKET', 'socket is off'));
    return false;
  }

  private flush(): void {
    while (this.txQueue.length > 0) {
      const st = this.o.socket.write(this.txQueue[0]!);
      if (st === 'FULL') return;
      if (st !== 'OK') {
        this.drop(new MqttError('SOCKET', 'socket is off'));
        return;
      }
      this.txQueue.shift();
    }
  }

  /** The last will of the status topic, or undefined (no status, or its callback threw). */
  private statusWill(): { topic: string; payload: Uint8Array; qos: QoS; retain: boolean } | undefined {
    if (!this.status) return undefined;
    try {
      return { topic: this.status.topic, payload: this.status.offline(), qos: 1, retain: true };
    } catch {
      this.counters?.inc('mqtt.callback_threw');
      return undefined;
    }
  }

  /** Publishes the retained status record (QoS 0). */
  private sendStatus(online: boolean): void {
    if (!this.status) return;
    let payload: Uint8Array;
    try {
      payload = online ? this.status.online() : this.status.offline();
    } catch {
      this.counters?.inc('mqtt.callback_threw');
      return;
    }
    this.sendPacket({ cmd: 'publish', topic: this.status.topic, payload, qos: 0, dup: false, retain: true });
  }

  private allocId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId === 65535 ? 1 : this.nextId + 1;
      if (id !== this.subId && !this.directIds.has(id) && this.inflightIndex(id, undefined) < 0) return id;
    }
  }

  /** Index in `inflight` of the entry with this packet id (or record id), -1 if none. A loop: no closure per call. */
  private inflightIndex(messageId: number | undefined, recordId: string | undefined): number {
    const list = this.inflight;
    for (let i = 0; i < list.length; i++) {
      const f = list[i]!;
      if (f.messageId === messageId || f.recordId === recordId) return i;
    }
    return -1;
  }

  /**
   * Publishes outbox records, oldest first, while online and the window has room.
   * Straight from the record's bytes into the tx buffer (encodePublishFrom): no
   * packet object, no topic decode or encode; in-flight entries are reused.
   */
  private pump(): void {
    if (this._state !== 'online') return;
    const ob = this.o.outbox;
    for (let i = 0; this.inflight.length < this.o.maxInflight; i++) {
      const id = ob.at(i);
      if (id === undefined) return;
      if (this.inflightIndex(undefined, id) >= 0) continue;
      const v = ob.value(id);
      if (!v) {
        i--; // the corrupt record was removed; the list shifted
        continue;
      }
      const messageId = this.allocId();
      let n: number;
      try {
        n = encodePublishFrom(this.txBuf, v, 1, v.length, messageId, this.sentOnce.has(id));
      } catch (e) {
        this.drop(e instanceof MqttError ? e : new MqttError('INVAL', 'cannot encode'));
        return;
      }
      const f = this.spare.pop() ?? { recordId: id, messageId, sentAt: 0 };
      f.recordId = id;
      f.messageId = messageId;
      f.sentAt = this.o.clock.now();
      this.inflight.push(f);
      this.sentOnce.add(id);
      if (!this.writeTx(n)) return;
      this.counters?.inc('mqtt.published');
    }
  }

  // ------------------------------------------------------------ receiving

  private protocol(what: string, type = -1): never {
    throw new MqttError('PROTOCOL', `unexpected ${what}`, type);
  }

  private onPacket(p: MqttPacket): void {
    if (this._state !== 'handshake' && this._state !== 'online') return; // dropped earlier in this chunk
    if (this._state === 'handshake') {
      if (p.cmd !== 'connack') this.protocol(`${p.cmd} before CONNACK`);
      if (p.returnCode !== 0) {
        this.counters?.inc('mqtt.connack_refused');
        // bad credentials or not authorised will not fix themselves quickly: back off further
        if (p.returnCode >= 4 && this.attempt < 5) this.attempt = 5;
        this.drop(new MqttError('REFUSED', 'broker refused the connection', p.returnCode));
        return;
      }
      const resubscribe = [...this.directSet]; // topics added during onState('online') are sent there
      this.setState('online');
      this.counters?.inc('mqtt.online');
      this.onlineSince = this.o.clock.now();
      this.log?.log('info', 'mqtt.online', { sessionPresent: p.sessionPresent });
      // the "online" status follows the SUBACK (below): a phone that sees it knows the broker queues for the toy
      this.subId = this.allocId();
      this.sendPacket({ cmd: 'subscribe', messageId: this.subId, subscriptions: this.o.subscriptions.map((topic) => ({ topic, qos: 1 as QoS })) });
      const still = resubscribe.filter((tp) => this.directSet.has(tp));
      if (still.length) this.sendDirect('subscribe', still);
      this.pump();
      return;
    }
    switch (p.cmd) {
      case 'publish':
        this.onPublish(p);
        return;
      case 'puback': {
        const i = this.inflightIndex(p.messageId, undefined);
        if (i < 0) {
          this.counters?.inc('mqtt.rx_unknown_puback');
          return;
        }
        const f = this.inflight[i]!;
        for (let k = i + 1; k < this.inflight.length; k++) this.inflight[k - 1] = this.inflight[k]!;
        this.inflight.length--;
        try {
          this.o.outbox.remove(f.recordId);
        } catch (e) {
          // stays in the outbox; sent again after the next reconnect, the receiver drops the duplicate
          this.error(e instanceof MqttError ? e : new MqttError('STORAGE', 'outbox remove failed'));
          return;
        }
        this.sentOnce.delete(f.recordId);
        if (this.spare.length < this.o.maxInflight) this.spare.push(f); // reused by pump()
        this.counters?.inc('mqtt.acked');
        this.pump();
        return;
      }
      case 'suback': {
        if (this.directIds.delete(p.messageId)) {
          // a refused update topic costs the update, not the connection
          if (p.granted.some((g) => g === 0x80)) this.counters?.inc('mqtt.direct_sub_refused');
          return;
        }
        if (p.messageId !== this.subId) this.protocol('SUBACK id', 9);
        this.subId = 0;
        if (p.granted.some((g) => g === 0x80)) {
          this.counters?.inc('mqtt.sub_refused');
          if (this.attempt < 5) this.attempt = 5;
          this.drop(new MqttError('SUB_REFUSED', 'broker refused a subscription'));
          return;
        }
        // from here the broker keeps what is published for the toy (a first-ever session had no subscription before)
        this.log?.log('info', 'mqtt.subscribed', { topics: this.o.subscriptions.length });
        // retained "online" only now: a first-ever session had no queue before its SUBACK, so a
        // phone holds its messages until it has seen this record (phone/parent-phone.ts)
        this.sendStatus(true);
        return;
      }
      case 'pingresp':
        this.pingSentAt = -1;
        return;
      case 'unsuback':
        this.directIds.delete(p.messageId);
        return;
      default:
        this.protocol(`${p.cmd} from the broker`);
    }
  }

  private onPublish(p: PublishPacket): void {
    if (p.qos === 2) this.protocol('QoS 2 PUBLISH (subscribed with QoS 1)', 3);
    this.counters?.inc('mqtt.received');
    if (this.directSet.has(p.topic) && !this.subscriptionSet.has(p.topic)) {
      try {
        this.onDirect?.(p.topic, p.payload);
      } catch {
        this.counters?.inc('mqtt.callback_threw');
      }
      if (p.qos === 1) this.sendPacket({ cmd: 'puback', messageId: p.messageId! });
      return;
    }
    if (!this.subscriptionSet.has(p.topic)) {
      // not one of our exact topics (a filter subscription or a broker misrouting): drop
      this.counters?.inc('mqtt.rx_foreign_topic');
      if (p.qos === 1) this.sendPacket({ cmd: 'puback', messageId: p.messageId! });
      return;
    }
    const r = this.o.inbox.accept(p.topic, p.payload);
    if (r === 'DUPLICATE') this.counters?.inc('mqtt.duplicates');
    if (r === 'FULL' || r === 'FAILED') {
      // not acknowledged: the broker keeps it and delivers it again after we reconnect
      this.drop(new MqttError(r === 'FULL' ? 'FULL' : 'STORAGE', r === 'FULL' ? 'inbox full' : 'inbox write failed'));
      return;
    }
    if (p.qos === 1) this.sendPuback(p.messageId!);
  }

  /** PUBACK for a stored chunk from four bytes kept for it: no packet object, no view (heap slots per chunk, issue 13). */
  private sendPuback(messageId: number): void {
    const b = this.pubackBytes;
    b[2] = messageId >>> 8;
    b[3] = messageId & 0xff;
    this.lastTx = this.o.clock.now();
    if (this.txQueue.length > 0) {
      this.txQueue.push(b.slice());
      return;
    }
    const st = this.o.socket.write(b);
    if (st === 'OK') return;
    if (st === 'FULL') {
      this.counters?.inc('mqtt.tx_full');
      this.txQueue.push(b.slice());
      return;
    }
    this.drop(new MqttError('SOCKET', 'socket is off'));
  }

  private onOversize(topic: string, qos: QoS, id: number | undefined): void {
    // well-formed but larger than any chunk: acknowledge and drop so it cannot block the queue
    this.counters?.inc('mqtt.rx_oversize');
    this.log?.log('warn', 'mqtt.oversize_dropped', { topicBytes: topic.length });
    if (qos === 2) this.protocol('QoS 2 PUBLISH', 3);
    if (qos === 1 && id !== undefined) this.sendPacket({ cmd: 'puback', messageId: id });
  }
}
