/**
 * A real mosquitto for integration tests: a temp config on a free loopback
 * port (never 1883), password file only, no anonymous access; and an MQTT
 * client connect that reports 'ok' or 'refused:<CONNACK code>'.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';

import { freePort, hasMosquitto as mosquittoOnPath } from './mqtt-node-helpers.js';

export const hasMosquitto = mosquittoOnPath();
export { freePort };

export async function startMosquitto(
  dir: string,
  passwdFile: string,
  opts: { port?: number; extraLines?: string[] } = {},
): Promise<{ port: number; proc: ChildProcess }> {
  const port = opts.port ?? (await freePort());
  const conf = path.join(dir, 'mosquitto.conf');
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${passwdFile}`, 'persistence false', 'log_dest stderr', ...(opts.extraLines ?? [])];
  // As root mosquitto drops to user "mosquitto", which cannot read a 0600 temp file: stay root in the test.
  if (process.getuid?.() === 0) lines.push('user root');
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  const proc = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 100; i++) {
    if (log.includes('running')) return { port, proc };
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill();
  throw new Error(`mosquitto did not start: ${log.slice(0, 500)}`);
}

export function connect(port: number, username: string, password: string): Promise<'ok' | string> {
  return new Promise((resolve) => {
    const c = mqtt.connect({ host: '127.0.0.1', port, username, password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, clientId: `t-${randomBytes(4).toString('hex')}` });
    c.once('connect', () => {
      c.end(true);
      resolve('ok');
    });
    c.once('error', (e) => {
      c.end(true);
      resolve((e as Error & { code?: number }).code !== undefined ? `refused:${(e as Error & { code?: number }).code}` : `error:${e.message}`);
    });
  });
}


/** Stops a broker started by startMosquitto and waits for it to exit. */
export async function stopMosquitto(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}
