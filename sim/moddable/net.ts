/**
 * Node implementation of the Moddable `net` module, as far as the firmware uses it:
 * `Net.resolve(host, callback)` answers on a later turn with an address, as DNS would
 * (the simulator's UDP sockets reach no real network: sim/moddable/socket.ts answers
 * SNTP itself). `board.sntpFails` makes the next lookups fail (address undefined), so
 * hal/moddable-sntp.ts reports its error at once.
 */
import { board } from './board.js';

const Net = {
  resolve(host: string, callback: (name: string, address?: string) => void): void {
    if (typeof host !== 'string' || host === '') throw new Error('host required');
    const fail = board.sntpFails > 0;
    if (fail) board.sntpFails--;
    setTimeout(() => callback(host, fail ? undefined : '127.0.0.1'), 1);
  },
};

export default Net;
