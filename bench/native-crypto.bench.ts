/**
 * Pure-JS crypto (tweetnacl inside XS) beside native crypto, in one run, on the
 * toy's paths: seal (record), admit and play (receive) per second of audio, and
 * one pairing on the toy's side. XS compute steps (deterministic; xsnap's meter)
 * plus the native calls.
 *
 * Native: the device's hal/moddable-crypto.ts over hal/native/pawpost-crypto.c
 * and libsodium, in the native worker (tools/xs-native/; the same XS engine and
 * meter as the stock worker, so the JS column is the same in both). Without gcc
 * or the -dev packages that worker is skipped and the native column falls back
 * to bench/xs/host-crypto.ts, a stand-in answering each operation from Node
 * (its marshalling counted, so an upper bound), and the rows say so.
 * The Opus codec is not in these paths (codec excluded, as the issue's target).
 * Targets (issue 12): recording ≤ 100 k steps per second of audio, pairing on
 * the toy ≤ 1 M steps, with native crypto.
 */
import { fileURLToPath } from 'node:url';
import { XsSession } from '../tools/xs-worker.js';
import { ensureNativeWorker } from '../tools/xs-native/xs-native-build.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import type { BenchRow, BenchSection } from './table.js';

const SECONDS = 20;

/** Answers bench/xs/host-crypto.ts queries. */
function answer(q: Uint8Array): Uint8Array {
  const op = q[0]!;
  const args: Uint8Array[] = [];
  let at = 2;
  for (let i = 0; i < q[1]!; i++) {
    const n = q[at]! | (q[at + 1]! << 8) | (q[at + 2]! << 16) | (q[at + 3]! << 24);
    args.push(q.slice(at + 4, at + 4 + n));
    at += 4 + n;
  }
  const c = naclCrypto;
  const a = args as [Uint8Array, Uint8Array, Uint8Array];
  let ok = true;
  let out: Uint8Array = new Uint8Array(0);
  switch (op) {
    case 0: out = c.boxKeyPairFromSecret(a[0]).publicKey; break;
    case 1: out = c.boxBefore(a[0], a[1]); break;
    case 2: out = c.secretbox(a[0], a[1], a[2]); break;
    case 3: { const r = c.secretboxOpen(a[0], a[1], a[2]); ok = r !== null; out = r ?? out; break; }
    case 4: out = c.onetimeauth(a[0], a[1]); break;
    case 5: out = c.scalarMult(a[0], a[1]); break;
    case 6: out = c.sha512(a[0]); break;
    case 7: ok = c.signVerify(a[0], a[1], a[2]); break;
    default: throw new Error(`host-crypto op ${op}`);
  }
  const r = new Uint8Array(1 + out.length);
  r[0] = ok ? 1 : 0;
  r.set(out, 1);
  return r;
}

export const section: BenchSection = {
  title: 'Native crypto beside pure JS (toy paths, XS steps per second of audio; tweetnacl in XS vs libsodium through hal/moddable-crypto.ts)',
  async run(): Promise<BenchRow[]> {
    const worker = await ensureNativeWorker();
    const nativeBin = 'bin' in worker ? worker.bin : undefined;
    const nativeImpl = nativeBin ? 'native' : 'host';
    const s = await XsSession.start(fileURLToPath(new URL('./xs/native-crypto-entry.ts', import.meta.url)), { nativeBin, nativeCrypto: false });
    s.onQuery = (q) => answer(q);
    try {
      const rows: BenchRow[] = [];
      const measure = async (impl: 'js' | 'native' | 'host') => {
        await s.call('use', { impl });
        await s.call('member-seal', { seconds: SECONDS });
        const seal = await s.call<{ chunks: number; nativeCalls: number }>('seal', { seconds: SECONDS });
        const admit = await s.call<{ packets: number; nativeCalls: number }>('open', { mode: 'admit' });
        const play = await s.call<{ packets: number; nativeCalls: number }>('open', { mode: 'play' });
        await s.call('pair-setup');
        let pair = 0;
        let pairCalls = 0;
        for (const [toy, phone] of [['toy-m1', 'phone-m2'], ['toy-m3', 'phone-m4'], ['toy-register', 'phone-net'], ['toy-network', 'phone-done'], ['toy-done', '']] as const) {
          const r = await s.call<number>(toy);
          pair += r.compute;
          pairCalls += r.result;
          if (phone) await s.call(phone);
        }
        const paired = (await s.call<number>('paired')).result;
        if (paired !== 1) throw new Error(`pairing with ${impl} crypto did not register the phone`);
        if (play.result.packets !== 50 * SECONDS) throw new Error(`play with ${impl}: ${play.result.packets} packets`);
        return { seal, admit, play, pair, pairCalls };
      };
      const js = await measure('js');
      const nat = await measure(nativeImpl);
      const label = nativeBin ? 'native' : `native stand-in (${'skipped' in worker ? worker.skipped : ''}: one issueCommand per operation, an upper bound)`;
      const per = (n: number) => n / SECONDS;
      const row = (what: string, a: number, b: number, calls: number, unit: string, target?: number) => {
        rows.push({ what: `${what}: pure JS`, value: a, unit });
        rows.push({
          what: `${what}: ${label}`,
          value: b,
          unit,
          note: `${calls} native calls; ${(a / b).toFixed(1)}× fewer steps${target ? `; target ≤ ${target.toLocaleString('en')}: ${b <= target ? 'met' : 'NOT met'}` : ''}`,
        });
      };
      row('toy seal (record path crypto + envelope), per s of audio', per(js.seal.compute), per(nat.seal.compute), nat.seal.result.nativeCalls / SECONDS, 'XS steps / s of audio', 100_000);
      row('toy admission (recipient tag), per s of audio', per(js.admit.compute), per(nat.admit.compute), nat.admit.result.nativeCalls / SECONDS, 'XS steps / s of audio');
      row('toy playback open, per s of audio', per(js.play.compute), per(nat.play.compute), nat.play.result.nativeCalls / SECONDS, 'XS steps / s of audio');
      row('one pairing, the toy side (M1..DONE)', js.pair, nat.pair, nat.pairCalls, 'XS steps', 1_000_000);
      return rows;
    } finally {
      await s.close();
    }
  },
};
