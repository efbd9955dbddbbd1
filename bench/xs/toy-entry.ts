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
