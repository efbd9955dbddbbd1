/**
 * Someone guessing a toy's code with a phone that sends its proof anyway: `tries` pairing
 * attempts over the simulator's radio endpoint (sim/radio-endpoint.ts), each with the given
 * wrong label code and a forged M3 proof. Five of them lock pairing (src/pairing-lockout.ts).
 * A parent's app never does this: it checks the toy's answer first and stops.
 */
import { randomBytes } from 'node:crypto';
import { naclCrypto } from '../src/nacl-crypto.js';
import { CHR_PAIR, MSG_M3 } from '../src/pairing-protocol.js';
import { PhonePairing } from '../phone/phone-pairing.js';
import { HttpRadio } from '../tools/parent-node.js';

export async function sendWrongProofs(radioUrl: string, wrongCode: string, tries = 5): Promise<void> {
  for (let i = 0; i < tries; i++) {
    const link = await HttpRadio.connect(radioUrl);
    const p = new PhonePairing({ crypto: naclCrypto, random: { fill: (b) => void b.set(randomBytes(b.length)) }, setupCode: wrongCode, member: naclCrypto.boxKeyPairFromSecret(randomBytes(32)) });
    await link.write(CHR_PAIR, p.start());
    await link.nextNotification(CHR_PAIR);
    const fake = new Uint8Array(81).fill(0xab);
    fake[0] = MSG_M3;
    await link.write(CHR_PAIR, fake).catch(() => undefined);
    await link.close();
  }
}
