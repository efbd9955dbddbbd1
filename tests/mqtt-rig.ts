/**
 * A toy (session + outbox + inbox on one MemoryStorage) wired to the FakeBroker on a
 * ManualClock, that can lose power (all in-memory state discarded, timers and socket
 * dead) and boot again from its storage. Shared by tests/mqtt-session.test.ts and the
 * XS tier (tests/mqtt-session.xs.ts). Portable.
 */
import { Counters } from '../src/counters.js';
import { Inbox, type InboxMessage } from '../src/inbox.js';
import { MqttError } from '../src/mqtt-codec.js';
import { MqttSession, type MqttSessionOptions } from '../src/mqtt-session.js';
import { Outbox } from '../src/outbox.js';
import { FakeRandom } from './fakes/fake-random.js';
import { ManualClock } from './fakes/manual-clock.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { FakeBroker, GatedClock, type FakeSocket } from './mqtt-fakes.js';

export const TOY = '0123456789abcdef0123456789abcdef';
export const IN = `pp/t/${TOY}/in`;
export const OUT = `pp/t/${TOY}/out`;

export function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}

export interface Boot {
  clock: GatedClock;
  socket: FakeSocket;
  outbox: Outbox;
  inbox: Inbox;
  session: MqttSession;
}

export class ToyRig {
  readonly clock = new ManualClock();
  readonly broker = new FakeBroker(this.clock);
  readonly storage = new MemoryStorage();
  readonly counters = new Counters();
  readonly errors: MqttError[] = [];
  /** Payload hex → times the consumer confirmed it (a "play"). */
  readonly played = new Map<string, number>();
  /** When set, the consumer confirms each chunk this long after it is handed over. */
  playMs = 50;
  boots = 0;
  cur!: Boot;

  /**
   * `writeBehind`: the outbox holds chunks in RAM while online and persists them
   * after `persistAfterMs` without a PUBACK (as src/app.ts wires it); default off (write-through).
   */
  constructor(private readonly extra: Partial<MqttSessionOptions> = {}, private readonly writeBehind?: { persistAfterMs?: number; maxRamRecords?: number }) {
    this.boot();
  }

  boot(): Boot {
    this.boots++;
    const clock = new GatedClock(this.clock);
    const socket = this.broker.socket();
    let session: MqttSession | undefined;
    const wb = this.writeBehind;
    const outbox = new Outbox({
      storage: this.storage,
      counters: this.counters,
      ...(wb ? { clock, online: () => session?.state === 'online', persistAfterMs: wb.persistAfterMs, maxRamRecords: wb.maxRamRecords } : {}),
    });
    const inbox = new Inbox({ storage: this.storage, counters: this.counters });
    session = new MqttSession({
      socket, clock, random: new FakeRandom(this.boots), host: 'broker.test', port: 8883,
      clientId: TOY, username: TOY, password: 'factory-secret', subscriptions: [IN], outbox, inbox,
      counters: this.counters, onError: (e) => this.errors.push(e), ...this.extra,
    });
    inbox.setConsumer((m: InboxMessage) => {
      clock.after(this.playMs, () => {
        try {
          inbox.confirm(m.id);
          const k = hex(m.payload);
          this.played.set(k, (this.played.get(k) ?? 0) + 1);
        } catch {
          // commit failed (power cut): not played; handed over again after restart
        }
      });
    });
    session.start();
    this.cur = { clock, socket, outbox, inbox, session };
    return this.cur;
  }

  /** Power cut: nothing in memory survives; storage works again after it. */
  powerCut(): Boot {
    this.cur.clock.kill();
    this.cur.socket.kill();
    this.storage.failAfter = -1;
    return this.boot();
  }

  /** Advances in steps; a storage failure switch that fired counts as a power cut at that moment. */
  run(ms: number, step = 10): void {
    for (let t = 0; t < ms; t += step) {
      this.clock.advance(step);
      if (this.storage.failAfter === 0) this.powerCut();
    }
  }
}

/** The test payload number i (n bytes, deterministic). */
export const testChunk = (i: number, n = 200): Uint8Array => new Uint8Array(n).map((_, j) => (i * 31 + j * 7) & 255);

/**
 * Power cut at storage operation k (k < 0: none) of a run that sends `count`
 * chunks while offline and has `count` chunks delivered to it, then goes online
 * for `runMs`. A send that throws (the cut hit while storing it) is retried after
 * the power cycle, as the child would record again. Used by both test tiers.
 */
export function powerCutRun(k: number, opts: { count?: number; bytes?: number; runMs?: number; stepMs?: number } = {}): ToyRig {
  const count = opts.count ?? 3;
  const rig = new ToyRig();
  rig.broker.up = false;
  rig.run(50);
  if (k >= 0) rig.storage.failAfter = k;
  for (let i = 0; i < count; i++) {
    try {
      rig.cur.session.send(OUT, testChunk(i, opts.bytes));
    } catch {
      rig.powerCut();
      i--;
      continue;
    }
    if (rig.storage.failAfter === 0) rig.powerCut();
  }
  for (let i = 0; i < count; i++) rig.broker.deliver(TOY, IN, testChunk(100 + i, opts.bytes));
  rig.broker.up = true;
  rig.run(opts.runMs ?? 120000, opts.stepMs ?? 50);
  return rig;
}
