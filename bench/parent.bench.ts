/**
 * The family's side (phone/): what a phone pays per minute of message, on this host
 * (Node; the phone library runs on phones, not on the toy). Ogg Opus export and read of
 * a 60 s message, the container's overhead over the raw packets, WAV import (44.1 kHz
 * stereo resampled to 16 kHz mono) and sealing into and opening from the history.
 * All measured in this run.
 */
import { naclCrypto } from '../src/nacl-crypto.js';
import { OpusCodecHost } from '../sim/opus-codec-host.js';
import { formatWav, readWavFile } from '../sim/wav-file.js';
import { decodeWavToMono16k, encodePcm } from '../phone/audio-import.js';
import { readOggOpus, writeOggOpus } from '../phone/ogg-opus.js';
import { ParentPhone } from '../phone/parent-phone.js';
import { AppRig } from '../tests/app-rig.js';
import { MemoryFiles } from '../tests/fakes/memory-files.js';
import { MemoryStorage } from '../tests/fakes/memory-storage.js';
import { SimCentral } from '../sim/ble-sim.js';
import type { BenchRow, BenchSection } from './table.js';

const fixture = new URL('../tests/fixtures/speech-16k.wav', import.meta.url).pathname;

function best(fn: () => void, runs = 5): number {
  let b = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    b = Math.min(b, performance.now() - t0);
  }
  return b;
}

export const section: BenchSection = {
  title: 'Parent side (phone/, host)',
  async run(): Promise<BenchRow[]> {
    const speech = readWavFile(fixture).samples;
    const pcm = new Int16Array(60 * 16000);
    for (let i = 0; i < pcm.length; i++) pcm[i] = speech[i % speech.length]!;
    const codec = new OpusCodecHost();
    const packets = encodePcm(pcm, codec);
    codec.close();
    const raw = packets.reduce((n, p) => n + p.length, 0);
    const ogg = writeOggOpus(packets);
    const rows: BenchRow[] = [];
    rows.push({ what: 'Ogg Opus export of a 60 s message', value: 60_000 / best(() => writeOggOpus(packets)), unit: 'x real time', note: `${packets.length} packets, best of 5` });
    rows.push({ what: 'Ogg Opus read (import) of it', value: 60_000 / best(() => readOggOpus(ogg)), unit: 'x real time', note: 'CRC and bounds checked' });
    rows.push({ what: 'Ogg container overhead', value: (100 * (ogg.length - raw)) / raw, unit: '% of the packet bytes', note: `${ogg.length} B file for ${raw} B of packets (${((8 * raw) / 60 / 1000).toFixed(1)} kbit/s)` });
    // 60 s at 44.1 kHz stereo → 16 kHz mono
    const st = new Int16Array(60 * 44100 * 2);
    for (let i = 0; i < st.length / 2; i++) st[2 * i] = st[2 * i + 1] = Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / 44100));
    const wav = formatWav(st, 44100, 2);
    rows.push({ what: 'WAV import, 44.1 kHz stereo → 16 kHz mono', value: 60_000 / best(() => decodeWavToMono16k(wav), 2), unit: 'x real time', note: 'windowed sinc, 16 zero crossings; best of 2' });

    // seal into the history and open again, with a phone paired to a toy on fakes
    const rig = new AppRig();
    rig.holdPaw(3000);
    const files = new MemoryFiles();
    const phone = new ParentPhone({ storage: new MemoryStorage(), files, crypto: naclCrypto, random: rig.random, clock: rig.clock });
    const central = new SimCentral(rig.radio);
    await phone.pair(async () => (central.connect(), central), { setupCode: rig.setupCode, name: 'Mum', brokerUrl: 'mqtt://x:1', network: { ssid: 'Home', passphrase: 'correct horse battery', brokerHost: 'x', brokerPort: 1 } });
    central.disconnect();
    let id = '';
    const t0 = performance.now();
    await phone.send(packets, { publish: async () => undefined }).then((r) => (id = r.id));
    const sealMs = performance.now() - t0;
    const file = files.data.get(`m-${id}.pm`)!;
    rows.push({ what: 'seal a 60 s message and store it', value: 60_000 / sealMs, unit: 'x real time', note: `one run; record file ${file.length} B (${((100 * (file.length - raw)) / raw).toFixed(1)} % over the packets)` });
    rows.push({ what: 'open it from the history (playback, export)', value: 60_000 / best(() => phone.history.open(id), 3), unit: 'x real time', note: 'every chunk authenticated again; best of 3' });
    return rows;
  },
};
