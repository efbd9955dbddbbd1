// XS entry for bench/toy.bench.ts: the whole toy (src/app.ts) on fakes inside XS.
// The codec is faked (its cost is the codec's own row); crypto, storage records,
// MQTT codec and session, pairing and the state machine are the real code.
import { onXsCommand } from '../../tests/xs/commands.js';
import { AppRig, Phone } from '../../tests/app-rig.js';

let rig: AppRig | undefined;
let phone: Phone | undefined;
let paired: 'pending' | 'ok' | string = 'pending';

declare const gc: (() => void) | undefined;
const collect = () => {
  if (typeof gc === 'function') gc();
};

/** The test rig without the toy (fixture identity, fakes, broker). */
onXsCommand('prepare', () => {
  rig = new AppRig({ boot: false });
  collect();
  return null;
});

/** The toy's start-up, as at power-on. */
onXsCommand('boot', () => {
  rig!.boot();
  collect();
  return { state: rig!.app.toy.state, audioRamBytes: rig!.app.audioRamBytes };
});

onXsCommand('pair', () => {
  const r = rig!;
  r.paw.press();
  r.clock.advance(3000);
  r.paw.release();
  phone = new Phone(r, 1);
  phone.pair('Mum').then(
    () => {
      paired = 'ok';
      r.clock.advance(2000);
    },
    (e: unknown) => {
      paired = e instanceof Error ? e.message : 'failed';
    },
  );
  return null;
});

onXsCommand('paired', () => ({ paired, online: rig!.app.session()?.state ?? 'none', family: rig!.app.roster?.size ?? 0 }));

/** Holds the paw for `seconds` and lets the message leave; returns chunks published. */
onXsCommand('record', (seconds) => {
  const r = rig!;
  const before = r.published().length;
  r.paw.press();
  r.clock.advance((seconds as number) * 1000);
  r.paw.release();
  r.clock.advance(500);
  collect();
  return r.published().length - before;
});

let pending: Uint8Array[] = [];
/** The phone seals a message (not measured in the toy's rows). */
onXsCommand('seal', (seconds) => {
  pending = phone!.sealMessage((seconds as number) * 50, 100);
  return pending.length;
});

/** The broker delivers the sealed message; the toy admits it. */
onXsCommand('deliver', () => {
  const r = rig!;
  r.deliver(pending);
  r.clock.advance(200);
  return r.app.player!.waiting();
});

/** The child presses the heart; the message plays to its end. */
onXsCommand('play', (seconds) => {
  const r = rig!;
  const before = r.played.length;
  r.heart.press();
  r.heart.release();
  r.clock.advance((seconds as number) * 1000 + 1000);
  return { frames: r.played.length - before, waiting: r.app.player!.waiting(), state: r.app.toy.state };
});

/** Idle time: a second with nothing to do (keepalive, LED off). */
onXsCommand('idle', (seconds) => {
  rig!.clock.advance((seconds as number) * 1000);
  collect();
  return null;
});

// ---------------------------------------------------------------- the fakes' share of a recording
// The record row counts everything that runs in the engine, including the fakes (mic, codec,
// in-memory storage) and the fake broker parsing every publish. This wraps their entry points
// with xsnap's meter (resetMeter returns the steps so far) to subtract them. Called last: the
// wrappers stay installed.
import { FakeCodec } from '../../audio/fake-codec.js';
import { FakeMic } from '../../tests/fakes/fake-mic.js';
import { MemoryStorage } from '../../tests/fakes/memory-storage.js';
import { FakeBroker, FakeSocket } from '../../tests/mqtt-fakes.js';

declare function resetMeter(limit: number, index: number): number;
const meterNow = () => {
  const v = resetMeter(0, 0);
  resetMeter(0, v);
  return v;
};
const fakeSteps: Record<string, number> = {};
let inFake = 0;
function meterFake(proto: object, method: string, label: string): void {
  const o = proto as Record<string, (...a: unknown[]) => unknown>;
  const orig = o[method]!;
  o[method] = function (this: unknown, ...a: unknown[]) {
    if (inFake > 0) return orig.apply(this, a);
    inFake++;
    const s = meterNow();
    try {
      return orig.apply(this, a);
    } finally {
      fakeSteps[label] = (fakeSteps[label] ?? 0) + meterNow() - s;
      inFake--;
    }
  };
}
let wrapped = false;
/** Records `seconds` with the fakes metered; returns the steps inside each kind of fake. */
onXsCommand('record-fakes', (seconds) => {
  const r = rig!;
  if (!wrapped) {
    wrapped = true;
    meterFake(FakeMic.prototype, 'read', 'mic');
    meterFake(FakeMic.prototype, 'available', 'mic');
    meterFake(FakeCodec.prototype, 'encode', 'codec');
    for (const m of ['read', 'write', 'remove', 'keys']) meterFake(MemoryStorage.prototype, m, 'storage');
    meterFake(FakeBroker.prototype, 'handle', 'broker');
    meterFake(FakeSocket.prototype, 'write', 'broker');
    const parser = (r.broker.current as unknown as { parser?: object } | undefined)?.parser;
    if (parser) meterFake(parser, 'push', 'broker');
  }
  for (const k of Object.keys(fakeSteps)) delete fakeSteps[k];
  const before = r.published().length;
  r.paw.press();
  r.clock.advance((seconds as number) * 1000);
  r.paw.release();
  r.clock.advance(500);
  return { chunks: r.published().length - before, steps: { ...fakeSteps } };
});
