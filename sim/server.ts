/**
 * The simulator's web server: serves the toy page (sim/page/index.html), pushes
 * the state with Server-Sent Events, and takes the page's actions as JSON POSTs.
 * No dependency beyond node:http. Binds to loopback only.
 */
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
  };
  parent: { status: string; messages: { from: string; seconds: number; url: string }[] };
  log: string[];
}

/** What the page can do; each action may throw an Error whose message is shown to the user. */
export interface SimModel {
  snapshot(): SimSnapshot;
  press(button: 'paw' | 'heart', pressed: boolean): void;
  setMicText(text: string): Promise<void>;
  parentPair(name: string): Promise<void>;
  parentSend(text: string): Promise<void>;
  /** A WAV file for a message the page lists (url /audio/<id>.wav). */
  audio(id: string): Uint8Array | undefined;
}

const MAX_BODY = 4096;

function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request too large'));
        req.destroy();
      } else parts.push(c);
    });
    req.on('end', () => {
      try {
        const v = JSON.parse(Buffer.concat(parts).toString() || '{}') as unknown;
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
        resolve(v as Record<string, unknown>);
      } catch (e) {
        reject(e instanceof Error ? e : new Error('bad JSON'));
      }
    });
    req.on('error', reject);
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
    const audio = url.match(/^\/audio\/([A-Za-z0-9_-]{1,64})\.wav$/);
    if (req.method === 'GET' && audio) {
      const wav = model.audio(audio[1]!);
      if (!wav) return send(404, { error: 'no such message' });
      res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': wav.length });
      res.end(wav);
      return;
    }
    if (req.method !== 'POST') return send(404, { error: 'not found' });
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
            await model.parentPair(str(body.name, 32));
            return send(200, { ok: true });
          case '/api/parent/send':
            await model.parentSend(str(body.text));
            return send(200, { ok: true });
          default:
            if (simUpdateRoute(url)) return send(200, await simUpdateRoute(url)!()); // issue 14: sim/update-publisher.ts
            return send(404, { error: 'not found' });
        }
      })
      .catch((e: unknown) => send(400, { error: e instanceof Error ? e.message : 'bad request' }));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
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
