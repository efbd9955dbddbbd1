import { CodecError } from '../audio/codec-port.js';
import { FakeCodec } from '../audio/fake-codec.js';
import { PlaybackPipeline } from '../audio/playback-pipeline.js';
import { FRAME_SAMPLES } from '../hal/ports.js';
import { Counters } from '../src/counters.js';
import { throwsCode, type AudioCase } from './audio-cases.js';
import { FakeSpeaker } from './fakes/fake-speaker.js';
import { ManualClock } from './fakes/manual-clock.js';

function setup() {
  const clock = new ManualClock();
  const played: number[] = [];
  const speaker = new FakeSpeaker(clock, (f) => played.push(f[0] === f[FRAME_SAMPLES - 1] ? f[0]! : -99999));
  const codec = new FakeCodec();
  const counters = new Counters();
  const errors: unknown[] = [];
  let finished = 0;
  const play = new PlaybackPipeline({ clock, speaker, codec, packetRingBytes: 4096, counters, onError: (e) => errors.push(e), onFinished: () => finished++ });
  // packets made by a second FakeCodec: packet k carries value k
  const enc = new FakeCodec();
  const pcm = new Int16Array(FRAME_SAMPLES);
  const pkt = new Uint8Array(1275);
  let nextValue = 1;
  /** Pushes packets until FULL or `upTo` values were pushed; returns how many went in. */
  const feed = (upTo: number): number => {
    let n = 0;
    while (nextValue <= upTo) {
      const len = enc.encode(pcm.fill(nextValue), pkt);
      const s = play.pushPacket(pkt, len);
      if (s !== 'OK') {
        enc.reset(); // keep the fake's length sequence irrelevant: only the carried value matters
        break;
      }
      nextValue++;
      n++;
    }
    return n;
  };
  return { clock, speaker, codec, play, played, counters, errors, feed, finished: () => finished };
}

/** Frames `values` as the envelope's plaintext: [u16 length][FakeCodec packet carrying v] each, then `pad` zero bytes. */
function framed(values: number[], pad = 7): Uint8Array {
  const enc = new FakeCodec();
  const pkt = new Uint8Array(1275);
  const parts: number[] = [];
  for (const v of values) {
    const len = enc.encode(new Int16Array(FRAME_SAMPLES).fill(v), pkt);
    parts.push(len >> 8, len & 255, ...pkt.subarray(0, len));
  }
  for (let i = 0; i < pad; i++) parts.push(0);
  return Uint8Array.from(parts);
}

/** A pipeline fed by segments only (the app's wiring: no packet ring). */
function segmentSetup(maxSegments?: number) {
  const clock = new ManualClock();
  const played: number[] = [];
  const speaker = new FakeSpeaker(clock, (f) => played.push(f[0] === f[FRAME_SAMPLES - 1] ? f[0]! : -99999), 8);
  const codec = new FakeCodec();
  const seen: { buf: Uint8Array; offset: number }[] = [];
  const decode = codec.decode.bind(codec);
  codec.decode = (packet: Uint8Array, length: number, out: Int16Array, offset?: number) => {
    seen.push({ buf: packet, offset: offset ?? 0 });
    return decode(packet, length, out, offset);
  };
  const counters = new Counters();
  let finished = 0;
  const play = new PlaybackPipeline({ clock, speaker, codec, counters, maxSegments, onFinished: () => finished++ });
  return { clock, speaker, codec, play, played, counters, seen, finished: () => finished };
}

export const playbackPipelineCases: AudioCase[] = [
  {
    name: 'segments: packets decode straight from the lent plaintext into the speaker\'s slot, in order; a buffer is given back once played',
    fn: (t) => {
      const { clock, play, played, seen, speaker, finished } = segmentSetup(2);
      t.is(play.ramBytes, 0, 'no PCM ring, no packet ring');
      const a = framed([1, 2, 3, 4, 5]);
      const b = framed([6, 7, 8], 0);
      const c = framed([9, 10]);
      t.is(play.pushSegment(a, 0, a.length, 5), 'OK');
      t.is(play.pushSegment(b, 0, b.length, 3), 'OK');
      t.false(play.segmentRoom());
      t.is(play.pushSegment(c, 0, c.length, 2), 'FULL', 'maxSegments queued');
      t.is(play.packetsQueued, 8);
      t.is(play.start(), 'OK');
      clock.advance(20);
      t.is(played.length, 4, 'up to 4 frames a tick');
      t.true(seen.every((s) => s.buf === a), 'decoded from the lent buffer itself');
      t.deepEqual(seen.map((s) => s.offset), [2, 2 + 20 + 2, 2 + 20 + 2 + 21 + 2, 2 + 20 + 2 + 21 + 2 + 22 + 2], 'at each packet\'s offset (lengths 20, 21, 22, 23)');
      t.is(play.segmentsQueued, 2, 'a buffer is held while packets remain in it');
      clock.advance(20);
      t.is(play.segmentsQueued, 0, 'both buffers are given back after their last packets');
      t.is(play.pushSegment(c, 0, c.length, 2), 'OK');
      play.endOfMessage();
      t.is(play.pushSegment(c, 0, c.length, 2), 'OFF');
      clock.advance(1000);
      t.deepEqual(played, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      t.is(speaker.commits, 10, 'every frame went through reserve/commit');
      t.is(play.underruns, 0);
      t.is(play.state, 'finished');
      t.is(finished(), 1);
    },
  },
  {
    name: 'segments: a framing error is silence, counted, the rest of that segment is dropped; a bad range is a typed error',
    fn: (t) => {
      const { clock, play, played, counters } = segmentSetup();
      const a = framed([1, 2, 3], 0);
      a[2 + 20] = 0x05; // the second packet's length: 0x0515 = 1301 > 1275
      const b = framed([4, 5]);
      throwsCode(t, () => play.pushSegment(a, 0, a.length + 1, 3), 'CodecError', 'SIZE');
      throwsCode(t, () => play.pushSegment(a, -1, a.length, 3), 'CodecError', 'SIZE');
      throwsCode(t, () => play.pushSegment(a, 0, a.length, 0), 'CodecError', 'SIZE');
      t.is(play.segmentsQueued, 0);
      t.is(play.pushSegment(a, 0, a.length, 3), 'OK');
      t.is(play.pushSegment(b, 0, b.length, 2), 'OK');
      play.endOfMessage();
      play.start();
      clock.advance(1000);
      t.deepEqual(played, [1, 0, 4, 5], 'packet 2 is silence, packet 3 dropped with it');
      t.is(play.badPackets, 4);
      t.is(counters.get('audio.play.badPacket'), 4);
      t.is(play.state, 'finished');
    },
  },
  {
    name: 'pushPacket without a packet ring is a typed error',
    fn: (t) => {
      const { play } = segmentSetup();
      throwsCode(t, () => play.pushPacket(new Uint8Array(10), 10), 'PortError', 'INVAL');
      t.false(play.canAccept(10));
    },
  },
  {
    name: 'a minute of packets plays in order with back-pressure, no underrun, then finishes once',
    fn: (t) => {
      const { clock, play, played, feed, finished, speaker } = setup();
      const ram = play.ramBytes;
      feed(3000); // prefill before start until FULL
      t.true(play.packets!.overruns === 1, 'the producer saw FULL');
      t.is(play.start(), 'OK');
      let fulls = 0;
      for (let ms = 0; ms < 61_000; ms += 20) {
        if (play.packetsIn < 3000) {
          feed(3000);
          if (play.packetsIn < 3000) fulls++;
          else play.endOfMessage();
        }
        clock.advance(20);
      }
      t.true(fulls > 2500, `back-pressure answered FULL on ${fulls} ticks`);
      t.is(play.state, 'finished');
      t.is(finished(), 1);
      t.is(played.length, 3000);
      let inOrder = true;
      for (let i = 0; i < played.length; i++) if (played[i] !== i + 1) inOrder = false;
      t.true(inOrder, 'frames reach the speaker in order with their values');
      t.is(play.underruns, 0);
      t.is(play.decodeErrors, 0);
      t.is(speaker.starved, 0);
      t.is(play.ramBytes, ram);
      t.is(play.pushPacket(new Uint8Array(5), 5), 'OFF', 'finished: no more packets');
    },
  },
  {
    name: 'packets of 0 or over 1275 bytes are a typed error, counted; the queue plays on',
    fn: (t) => {
      const { clock, play, played, feed, counters } = setup();
      feed(10);
      throwsCode(t, () => play.pushPacket(new Uint8Array(10), 0), 'CodecError', 'SIZE');
      throwsCode(t, () => play.pushPacket(new Uint8Array(2000), 1276), 'CodecError', 'SIZE');
      throwsCode(t, () => play.pushPacket(new Uint8Array(10), 11), 'CodecError', 'SIZE');
      t.is(play.badPackets, 3);
      t.is(counters.get('audio.play.badPacket'), 3);
      t.is(play.packets!.count, 10);
      play.endOfMessage();
      play.start();
      clock.advance(1000);
      t.deepEqual(played, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      t.is(play.state, 'finished');
    },
  },
  {
    name: 'a decoder that throws: that frame becomes silence, counted, the rest plays',
    fn: (t) => {
      const { clock, play, played, feed, codec, errors, counters } = setup();
      feed(20);
      play.endOfMessage();
      codec.failNextDecodes = 2;
      play.start();
      clock.advance(100);
      codec.decode = () => {
        throw new RangeError('wasm trap');
      };
      clock.advance(20);
      codec.decode = FakeCodec.prototype.decode.bind(codec);
      clock.advance(1000);
      t.is(play.state, 'finished');
      t.true(play.decodeErrors >= 3, `${play.decodeErrors} decode errors`);
      t.is(play.framesDecoded + play.decodeErrors, 20);
      t.is(counters.get('audio.play.decodeError.UNKNOWN'), play.decodeErrors - 2, 'non-CodecError throws are counted too');
      t.is(played.length, 20, 'the message keeps its length');
      t.is(played[0], 0);
      t.is(played[1], 0);
      t.is(played[2], 3);
      t.is(played.filter((v) => v === 0).length, play.decodeErrors);
      t.true(errors[0] instanceof CodecError);
      t.is(counters.get('audio.play.decodeError.DECODE'), 2);
      t.is(counters.get('audio.play.decodeError'), play.decodeErrors);
    },
  },
  {
    name: 'a producer that stalls causes counted underruns; playback recovers after prebuffering',
    fn: (t) => {
      const { clock, play, played, feed, counters } = setup();
      feed(10);
      play.start();
      clock.advance(1000);
      t.is(played.length, 10);
      t.true(play.underruns >= 1);
      t.is(counters.get('audio.play.underrun'), play.underruns);
      const u = play.underruns;
      feed(11);
      clock.advance(100);
      t.is(played.length, 10, 'one frame is below the prebuffer of 2: it waits');
      t.is(play.underruns, u, 'no underrun counted while prebuffering');
      feed(20);
      play.endOfMessage();
      clock.advance(1000);
      t.is(played.length, 20);
      t.is(play.state, 'finished');
    },
  },
  {
    name: 'busy speaker, OFF after endOfMessage, stop drops the message, close twice',
    fn: (t) => {
      const { play, speaker, feed, clock, played } = setup();
      speaker.busy = true;
      t.is(play.start(), 'BUSY');
      speaker.busy = false;
      feed(5);
      t.is(play.start(), 'OK');
      t.is(play.start(), 'BUSY');
      play.stop();
      t.is(play.state, 'idle');
      t.is(play.packets!.count, 0);
      clock.advance(200);
      t.is(played.length, 0);
      play.endOfMessage();
      t.is(play.pushPacket(new Uint8Array(3), 3), 'OFF');
      play.close();
      play.close();
      t.is(play.state, 'closed');
      t.is(play.start(), 'OFF');
    },
  },
  {
    name: 'a speaker adapter that throws is counted and the frame is kept for the next tick',
    fn: (t) => {
      const { play, speaker, feed, clock, played } = setup();
      feed(6);
      play.endOfMessage();
      play.start();
      speaker.throwOnWrites = 1;
      clock.advance(1000);
      t.is(play.speakerErrors, 1);
      t.deepEqual(played, [1, 2, 3, 4, 5, 6]);
      t.is(play.state, 'finished');
    },
  },
];
