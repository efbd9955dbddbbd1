/**
 * Node implementation of the Moddable `sntp` module: answers with the host's
 * clock (seconds since 1970) on a later turn, as a server on the network would.
 * `board.sntpFails` makes the next requests report SNTP.error.
 */
import { board } from './board.js';

export default class SNTP {
  static readonly time = 1;
  static readonly retry = 2;
  static readonly error = -1;
  constructor(dictionary: { host: string }, callback: (message: number, value?: number) => void) {
    if (!dictionary || typeof dictionary.host !== 'string') throw new Error('host required');
    const fail = board.sntpFails > 0;
    if (fail) board.sntpFails--;
    setTimeout(() => {
      if (fail) callback(SNTP.error, 'no response from SNTP server' as unknown as number);
      else callback(SNTP.time, Math.floor(Date.now() / 1000));
    }, 5);
  }
}
