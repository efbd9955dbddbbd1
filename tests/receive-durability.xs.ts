// Receiving and playing on the whole toy (src/app.ts: Inbox, MessagePlayer, replay
// record), in XS and in Node, with a power cut at every storage write or remove of a
// message's life: its chunks arriving, admission, playing, the replay commit, the
// seen record and the removes. After the restart the broker delivers what it still
// holds and the child presses the heart again. Every time: the message is heard to
// its end (0 lost), and once its replay counter is committed it never plays again
// (0 played twice after the commit point; a cut before it plays it again from the start).
// Issue 13: arrival writes only the chunk records (no admission or replay record).
import { test } from './xs/harness.js';
import { AppRig, pairedRig } from './app-rig.js';
import { RECEIVE_RECORD_KEY, ReplayGuard } from '../src/replay-guard.js';
import { peekChunk } from '../src/envelope.js';
import { ADMITTED_KEY } from '../src/message-player.js';

const PACKETS = 60; // 1.2 s: 3 chunks of 25 packets

/** How many times the frames first..first+PACKETS-1 were played to the end, in order. */
function wholePlays(played: number[], first: number): number {
  let n = 0;
  let next = first;
  for (const v of played) {
    if (v === next) next++;
    else if (v === first) next = first + 1;
    if (next === first + PACKETS) {
      n++;
      next = first;
    }
  }
  return n;
}

function heart(rig: AppRig, ms: number): void {
  rig.heart.press();
  rig.heart.release();
  rig.clock.advance(ms);
}

test('power cut at every storage operation of receiving and playing: heard to its end, never again after its commit', async (t) => {
  const { rig, phone } = await pairedRig();
  const data = rig.data;
  // successful writes per key in the boot that is cut (the commit point is the rp.rx write)
  let written: string[] = [];
  const write = data.write.bind(data);
  data.write = (k: string, v: Uint8Array) => {
    write(k, v);
    written.push(k);
  };
  let cuts = 0;
  let replayedAfterCommit = 0;
  let lost = 0;
  for (let k = 0; ; k++) {
    const first = 2000 + k * 100;
    written = [];
    data.failAfter = k; // k more writes/removes succeed, then the power is gone
    rig.deliver(phone.sealMessage(PACKETS, first));
    rig.clock.advance(500);
    heart(rig, 3000);
    const failed = data.failAfter === 0; // all k operations were used: the power went at the next one (or right after the last)
    const committed = written.includes(RECEIVE_RECORD_KEY);
    const before = wholePlays(rig.played, first);
    data.failAfter = 0;
    rig.boot(); // power cycle: RAM gone, storage kept (nothing written while the power goes)
    data.failAfter = -1;
    rig.clock.advance(3000); // reconnects; the broker delivers again what was not acknowledged
    if (rig.app.player!.waiting() > 0) heart(rig, 3000);
    const after = wholePlays(rig.played, first) - before;
    if (before + after === 0) lost++;
    if (committed && before > 0 && after > 0) replayedAfterCommit++;
    t.is(rig.app.player!.waiting(), 0, `cut after ${k} operations: nothing left waiting`);
    if (!failed) break; // the whole life of a message ran without reaching the cut
    cuts++;
  }
  t.true(cuts >= 8, `${cuts} cut points (chunk records, seen record, removes, replay record)`);
  t.is(lost, 0, 'every message was heard to its end');
  t.is(replayedAfterCommit, 0, 'no message played again after its replay counter was committed');
});

test('arrival of a message writes only its chunk records; playing it writes the replay record once, then removes', async (t) => {
  const { rig, phone } = await pairedRig();
  const keys: string[] = [];
  const write = rig.data.write.bind(rig.data);
  rig.data.write = (k: string, v: Uint8Array) => {
    write(k, v);
    keys.push(k);
  };
  const chunks = phone.sealMessage(PACKETS, 5000);
  rig.deliver(chunks);
  rig.clock.advance(500);
  const arrival = keys.filter((k) => !k.startsWith('fn.')); // the family note counter of the 'delivered' receipt (inline)
  t.is(arrival.length, chunks.length);
  t.true(arrival.every((k) => k.startsWith('ib.')), arrival.join(' '));
  keys.length = 0;
  heart(rig, 3000);
  t.is(wholePlays(rig.played, 5000), 1);
  const play = keys.filter((k) => !k.startsWith('fn.'));
  t.deepEqual(play, [RECEIVE_RECORD_KEY]);
  t.is(rig.data.keys('ib.').length, 0, 'its chunk records are gone');
});

test('upgrade: a message admitted by an earlier version (adm record, replay counter committed on arrival) still plays once; the record goes', async (t) => {
  const { rig, phone } = await pairedRig();
  const chunks = phone.sealMessage(PACKETS, 7000);
  rig.deliver(chunks);
  rig.clock.advance(500);
  // what the earlier version left: the replay counter committed at arrival and the message id in `adm`
  const h = peekChunk(chunks[0]!)!;
  const counter = (rig.app.player as unknown as { msgs: Map<string, { counter: number }> }).msgs.get(h.messageKey)!.counter;
  new ReplayGuard(rig.data).commit(h.sender, counter);
  const adm = new Uint8Array(18);
  adm[0] = 1;
  adm[1] = 1;
  adm.set(h.messageId, 2);
  rig.data.write(ADMITTED_KEY, adm);
  rig.boot();
  rig.clock.advance(2000);
  t.is(rig.app.player!.waiting(), 1, 'not refused as a replay of itself');
  heart(rig, 3000);
  t.is(wholePlays(rig.played, 7000), 1);
  t.is(rig.data.read(ADMITTED_KEY), undefined, 'the legacy record is removed with its last message');
  rig.boot();
  rig.clock.advance(2000);
  t.is(rig.app.player!.waiting(), 0);
});
