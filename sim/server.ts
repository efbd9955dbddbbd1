/**
 * The simulator's web server: serves the toy page (sim/page/index.html), pushes
 * the state with Server-Sent Events, and takes the page's actions as JSON POSTs.
 * No dependency beyond node:http. Binds to loopback only.
 */
import { MAX_AUDIO_FILE_BYTES } from './audio-file-packets.js';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { simUpdateRoute } from './update-publisher.js';

export interface SimSnapshot {
  toy: {
    state: string;
    /** What the LED pixel shows now (after the firmware's brightness cap). */
    led: [number, number, number];
    /** The firmware's LED brightness cap (manifest ledMaxLevel, 0..255): the page scales by 255/ledMax to show how the LED looks. */
    ledMax: number;
    /** The heart LED pattern the toy shows (src/heart-led.ts LedPattern). */
    ledPattern: string;
    counters: Record<string, number>;
    setupCode: string;
    played: { seconds: number; url: string }[];
    /** Messages waiting to be heard (the heart glows while > 0). */
    waiting: number;
    /** The family settings the toy enforces (sent sealed by a phone: `npm run parent -- settings`), in words; quietNow: quiet hours now. */
    settings: { words: string; volumePercent: number; quietNow: boolean };
    /** The toy's family (its roster): the name each phone gave, and which simulated phone it is (undefined: another). */
    family: { name: string; phone: string | undefined }[];
    /** The page's Wi-Fi switch for the toy. */
    wifi: boolean;
    /** The toy is connected to the relay now (the relay's view). */
    online: boolean;
    /** Minutes left of the pairing lock after too many wrong codes (0: not locked). */
    lockedMinutes: number;
    /** The gesture being held: a pairing hold (3 s), paw + heart (3 s add a phone, 10 s factory reset), or a recording (60 s cap); ms held so far. */
    hold: { kind: 'pair' | 'combo' | 'recording'; ms: number } | undefined;
    /** What just happened that the toy itself does not show (a squeeze too short, ...); '' when nothing. */
    notice: string;
  };
  /** Mum's phone (the same as phones[0]). */
  parent: SimPhoneSnapshot;
  phones: SimPhoneSnapshot[];
  /** What happened, in words (sim/sim-words.ts). */
  log: string[];
  /** The toy's raw trace lines (for developers). */
  trace: string[];
}

/** One simulated phone. */
export interface SimPhoneSnapshot {
  id: string;
  status: string;
  paired: boolean;
  /** The phone's own connection to the relay. */
  online: boolean;
  /** The name it gave the toy. */
  name: string;
  /** Received messages: a WAV to listen to (url) and the Ogg Opus file to keep (ogg), both /audio/<id>.*; at: Date.now() on arrival. */
  messages: { from: string; seconds: number; url: string; ogg: string; at: number }[];
  /**
   * What it sent: 'waiting' on the phone (the toy never reached the relay yet), 'queued' at the relay
   * (the toy was offline), 'sent' (the relay took it), 'delivered' (the toy has it), 'heard' (the child played it).
   */
  sent: { seconds: number; at: number; state: 'waiting' | 'queued' | 'sent' | 'delivered' | 'heard' }[];
  /** The family settings this phone sent last (the form's values) and whether they still wait on the phone. */
  settings: { quietEnabled: boolean; quietStart: string; quietEnd: string; volumePercent: number; words: string; waiting: boolean };
  /** What the toy told this phone about the family ("Dad" was added to the toy), oldest first. */
  notices: string[];
}

/** What the page can do; each action may throw an Error whose message is shown to the user. */
export interface SimModel {
  snapshot(): SimSnapshot;
  press(button: 'paw' | 'heart', pressed: boolean): void;
  setMicText(text: string): Promise<void>;
  /** Mum's phone pairs (code: what was typed; default the label's). */
  parentPair(name: string, code?: string): Promise<void>;
  /** Mum's phone sends. */
  parentSend(text: string): Promise<void>;
  phonePair(phone: string, name: string, code?: string): Promise<void>;
  /** Sends from `phone`; says whether the relay queued it (toy offline) or passed it on. */
  phoneSend(phone: string, text: string): Promise<{ state: SimPhoneSnapshot['sent'][number]['state'] }>;
  /** A phone sends an audio file (WAV at any rate or Ogg Opus, sim/audio-file-packets.ts); errors in words. */
  phoneSendFile(phone: string, bytes: Uint8Array): Promise<{ state: SimPhoneSnapshot['sent'][number]['state']; note: string; seconds: number }>;
  /**
   * `phone` sends family settings, as `npm run parent -- settings` does (phone/settings-input.ts):
   * quiet "HH:MM-HH:MM" or "off", volume 1..100, the family's UTC offset in minutes; a field left
   * out keeps the last value. Throws an Error in words for bad input.
   */
  phoneSettings(phone: string, input: { quiet?: string; volume?: string; utcOffsetMin?: number }): Promise<{ words: string; state: 'sent' | 'waiting' }>;
  /** `phone` removes `target` from the toy's family (the toy must be in pairing mode). */
  phoneRemove(phone: string, target: string): Promise<void>;
  /** The toy's Wi-Fi on or off (off: the relay cannot reach it; messages wait there). */
  setToyWifi(on: boolean): Promise<void>;
  /** A WAV file for a message the page lists (url /audio/<id>.wav). */
  audio(id: string): Uint8Array | undefined;
  /** The Ogg Opus file of a received message (url /audio/<id>.opus). */
  audioOgg(id: string): Uint8Array | undefined;
}

const MAX_BODY = 4096;

/** The raw body of a request, at most `max` bytes (a larger one is refused with `tooLarge`, in words). */
function readBytes(req: http.IncomingMessage, max: number, tooLarge = `the file is larger than ${Math.round(max / 1024 / 1024)} MB (a message is at most 60 s)`): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new Error(tooLarge));
        req.destroy();
      } else parts.push(c);
    });
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(parts))));
    req.on('error', reject);
  });
}

function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return readBytes(req, MAX_BODY, 'request too large').then((bytes) => {
    const v = JSON.parse(Buffer.from(bytes).toString() || '{}') as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
    return v as Record<string, unknown>;
  });
}

const str = (v: unknown, max = 300): string => {
  if (typeof v !== 'string' || v.length > max) throw new Error(`expected a string of at most ${max} characters`);
  return v;
};

export interface SimServer {
  port: number;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1:port (0 = any free port). State is pushed every 100 ms while a page listens. */
export async function startSimServer(model: SimModel, port: number): Promise<SimServer> {
  const page = fs.readFileSync(new URL('./page/index.html', import.meta.url));
  const listeners = new Set<http.ServerResponse>();
  let last = '';
  const push = setInterval(() => {
    if (listeners.size === 0) return;
    const s = JSON.stringify(model.snapshot());
    if (s === last) return;
    last = s;
    for (const res of listeners) res.write(`data: ${s}\n\n`);
  }, 100);

  const server = http.createServer((req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = req.url ?? '/';
    if (req.method === 'GET' && (url === '/' || url === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page);
      return;
    }
    if (req.method === 'GET' && url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write(`data: ${JSON.stringify(model.snapshot())}\n\n`);
      listeners.add(res);
      req.on('close', () => listeners.delete(res));
      return;
    }
    if (req.method === 'GET' && url === '/api/state') return send(200, model.snapshot());
    const audio = url.match(/^\/audio\/([A-Za-z0-9_-]{1,64})\.(wav|opus)$/);
    if (req.method === 'GET' && audio) {
      const ogg = audio[2] === 'opus';
      const bytes = ogg ? model.audioOgg(audio[1]!) : model.audio(audio[1]!);
      if (!bytes) return send(404, { error: 'no such message' });
      res.writeHead(200, {
        'content-type': ogg ? 'audio/ogg; codecs=opus' : 'audio/wav',
        'content-length': bytes.length,
        ...(ogg ? { 'content-disposition': `attachment; filename="pawpost-${audio[1]}.opus"` } : {}),
      });
      res.end(bytes);
      return;
    }
    if (req.method !== 'POST') return send(404, { error: 'not found' });
    const upload = url.match(/^\/api\/phone\/send-file\?phone=([a-z]{1,8})$/);
    if (upload) {
      readBytes(req, MAX_AUDIO_FILE_BYTES)
        .then(async (bytes) => send(200, { ok: true, ...(await model.phoneSendFile(upload[1]!, bytes)) }))
        .catch((e: unknown) => send(400, { error: e instanceof Error ? e.message : 'bad request' }));
      return;
    }
    readJson(req)
      .then(async (body) => {
        switch (url) {
          case '/api/button': {
            const b = body.button;
            if (b !== 'paw' && b !== 'heart') throw new Error('button must be paw or heart');
            if (typeof body.pressed !== 'boolean') throw new Error('pressed must be a boolean');
            model.press(b, body.pressed);
            return send(200, { ok: true });
          }
          case '/api/mic':
            await model.setMicText(str(body.text));
            return send(200, { ok: true });
          case '/api/parent/pair':
            await model.parentPair(str(body.name, 32), body.code === undefined ? undefined : str(body.code, 120));
            return send(200, { ok: true });
          case '/api/parent/send':
            await model.parentSend(str(body.text));
            return send(200, { ok: true });
          case '/api/phone/pair':
            await model.phonePair(str(body.phone, 8), str(body.name, 32), body.code === undefined ? undefined : str(body.code, 120));
            return send(200, { ok: true });
          case '/api/phone/send':
            return send(200, { ok: true, ...(await model.phoneSend(str(body.phone, 8), str(body.text))) });
          case '/api/phone/settings': {
            const off = body.utcOffsetMin;
            if (off !== undefined && (typeof off !== 'number' || !Number.isInteger(off))) throw new Error('utcOffsetMin must be a whole number of minutes');
            const r = await model.phoneSettings(str(body.phone, 8), {
              quiet: body.quiet === undefined ? undefined : str(body.quiet, 20),
              volume: body.volume === undefined ? undefined : str(body.volume, 8),
              utcOffsetMin: off as number | undefined,
            });
            return send(200, { ok: true, ...r });
          }
          case '/api/phone/remove':
            await model.phoneRemove(str(body.phone, 8), str(body.target, 8));
            return send(200, { ok: true });
          case '/api/toy/wifi':
            if (typeof body.on !== 'boolean') throw new Error('on must be a boolean');
            await model.setToyWifi(body.on);
            return send(200, { ok: true });
          default:
            if (simUpdateRoute(url)) return send(200, await simUpdateRoute(url)!()); // issue 14: sim/update-publisher.ts
            return send(404, { error: 'not found' });
        }
      })
      .catch((e: unknown) => send(400, { error: e instanceof Error ? e.message : 'bad request' }));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    clearInterval(push);
    throw e;
  }
  let closed = false;
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(push);
      for (const res of listeners) res.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
