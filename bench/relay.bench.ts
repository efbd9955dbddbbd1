/**
 * The relay under a fleet (relay/relay-load.ts): 1,000 toys and 2,000 phones as MQTT
 * clients on loopback against a mosquitto set up like `npm run relay -- init`, steady
 * traffic, a burst of 200 one-minute messages, a broker restart. About two minutes;
 * needs root (the broker runs as its service user). Env RELAY_BENCH_TOYS overrides
 * the fleet size. Every figure is measured in this run.
 */
import nacl from 'tweetnacl';
import { naclCrypto as crypto } from '../src/nacl-crypto.js';
import { makeEnrollRequest, makeNotice, openEnrollRequest, openNotice, peekEnrollRequest } from '../src/enrollment-grant.js';
import { DEFAULT_LOAD, runLoad } from '../relay/relay-load.js';

/** The enrollment service's crypto per request (tweetnacl, as relay/enrollment-service.ts, no key cache hit). */
export function enrollmentCryptoMs(n = 50): number {
  const relay = nacl.box.keyPair();
  const toy = nacl.box.keyPair();
  const reqs = Array.from({ length: n }, () => {
    const phone = nacl.box.keyPair();
    const grant = makeNotice({ crypto, kind: 'grant', toyId: 'ab'.repeat(16), toyRelayKey: crypto.boxBefore(relay.publicKey, toy.secretKey), phonePublicKey: phone.publicKey, seq: 1, nonce: nacl.randomBytes(24) });
    return makeEnrollRequest({ crypto, phonePublicKey: phone.publicKey, phoneRelayKey: crypto.boxBefore(relay.publicKey, phone.secretKey), grant, password: 'p'.repeat(24), nonce: nacl.randomBytes(24) });
  });
  const t0 = performance.now();
  for (const r of reqs) {
    const k = crypto.boxBefore(peekEnrollRequest(r).phonePublicKey, relay.secretKey);
    const { grant } = openEnrollRequest(crypto, r, k);
    openNotice(crypto, grant, crypto.boxBefore(toy.publicKey, relay.secretKey));
  }
  return (performance.now() - t0) / n;
}
import type { BenchRow, BenchSection } from './table.js';

export const section: BenchSection = {
  title: 'Relay under a fleet (npm run relay -- load)',
  async run(): Promise<BenchRow[]> {
    const crypto1 = { what: 'enrollment crypto per request (2 X25519, tweetnacl)', value: enrollmentCryptoMs(), unit: 'ms', note: 'open the phone\'s request and the toy\'s grant' };
    if (process.getuid?.() !== 0) return [crypto1, { what: 'fleet load', value: NaN, unit: '', note: 'needs root (mosquitto as its own user)' }];
    const toys = Number(process.env.RELAY_BENCH_TOYS ?? DEFAULT_LOAD.toys);
    const r = await runLoad({ ...DEFAULT_LOAD, toys });
    const fleet = `${toys} toys + ${toys * DEFAULT_LOAD.phonesPerToy} phones`;
    return [
      crypto1,
      { what: 'connect the fleet (plain TCP, PBKDF2 check each)', value: r.connectSeconds, unit: 's', note: fleet },
      { what: 'deliveries expected', value: r.expected, unit: 'chunks', note: `${r.published} published, ${r.acked} acknowledged` },
      { what: 'lost', value: r.lost, unit: 'chunks', note: 'expected deliveries never received after the drain' },
      { what: 'broker redeliveries (dropped by the dedupe key)', value: r.redelivered, unit: 'chunks', note: 'duplicates reaching the application: 0' },
      { what: 'misdelivered', value: r.misdelivered, unit: 'chunks', note: 'to a client not paired with the sender' },
      { what: 'throughput over the run', value: r.msgPerSecond, unit: 'deliveries/s', note: 'steady + burst + restart + drain' },
      { what: 'throughput during the burst', value: r.burstMsgPerSecond, unit: 'deliveries/s', note: '200 toys x 40 chunks x 2 phones' },
      { what: 'latency p50', value: r.p50Ms, unit: 'ms', note: 'publish to first delivery, restart included' },
      { what: 'latency p99', value: r.p99Ms, unit: 'ms' },
      { what: 'latency p50, steady chunks (away from burst and restart)', value: r.steadyP50Ms, unit: 'ms' },
      { what: 'latency p99, steady chunks', value: r.steadyP99Ms, unit: 'ms' },
      { what: 'latency p50, burst chunks', value: r.burstP50Ms, unit: 'ms' },
      { what: 'latency p99, burst chunks', value: r.burstP99Ms, unit: 'ms' },
      { what: 'broker memory per connected client (upper bound)', value: r.rssPerClientKb, unit: 'KiB', note: 'whole broker RSS after connecting / clients' },
      { what: 'broker CPU while sending and draining', value: r.brokerCpuSeconds, unit: 'CPU s' },
      { what: 'broker restart (SIGTERM, save, start)', value: r.restartSeconds, unit: 's' },
    ];
  },
};
