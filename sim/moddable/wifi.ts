/**
 * Node implementation of the Moddable `wifi` module (modules/network/wifi),
 * station mode only, like the SDK's own stand-in for the simulators
 * (modules/network/wifi/sim): a join reports `connect` and then `gotIP` on later
 * turns of the event loop. `board.wifiFails` makes joins fail with
 * `disconnect` instead (tests of the reconnect path). Credentials are kept only
 * as the board's `wifiSsid` (the passphrase is not stored).
 */
import { board } from './board.js';

type Notify = (message: string) => void;

export default class WiFi {
  static readonly gotIP = 'gotIP';
  static readonly lostIP = 'lostIP';
  static readonly connected = 'connect';
  static readonly disconnected = 'disconnect';
  static readonly Mode = Object.freeze({ none: 0, station: 1, accessPoint: 2 });
  static mode = 0;
  private notify: Notify | undefined;
  private timers: NodeJS.Timeout[] = [];

  constructor(dictionary?: { ssid?: string; password?: string }, onNotify?: Notify) {
    this.notify = onNotify;
    if (!dictionary) return;
    if (typeof dictionary.ssid !== 'string' || dictionary.ssid.length === 0) throw new Error('ssid required');
    board.wifiSsid = dictionary.ssid;
    board.wifiJoins++;
    const fail = board.wifiFails > 0;
    if (fail) board.wifiFails--;
    this.timers.push(setTimeout(() => this.notify?.(fail ? WiFi.disconnected : WiFi.connected), 5));
    if (!fail) this.timers.push(setTimeout(() => this.notify?.(WiFi.gotIP), 10));
  }

  set onNotify(cb: Notify) {
    this.notify = cb;
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.notify = undefined;
  }

  static connect(_dictionary?: unknown): void {
    // the simulated station has nothing to tear down
  }

  static disconnect(): void {
    WiFi.connect();
  }
}
