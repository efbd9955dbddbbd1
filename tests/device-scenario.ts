/**
 * The firmware's entry in DEVICE-TIER TEST BUILDS only (tests/device/manifest.json;
 * never in the product image): boots the real firmware (src/main.ts) and then
 * plays a scenario read from `<file.root>/scenario.json`, written by the test
 * runner before each boot:
 *
 *   { "steps": [ { "atMs": 3000, "button": "paw", "down": true }, ... ],
 *     "memoryEveryMs": 200 }
 *
 * and then follows `<file.root>/cmd`, polled every 100 ms: each new line
 * `paw down`, `paw up`, `heart down`, `heart up`, `mem`, `crypto` (native crypto against
 * tweetnacl and its bad-argument checks, tests/device-crypto-check.ts) or `vectors` (the
 * committed pairing vectors remade with the native crypto, tests/device-vectors.ts) is done once, in order
 * (the runner appends lines while the toy runs).
 *
 * Buttons are pressed through the lin ButtonPorts (hal/lin-controls.ts), as a
 * finger would: nothing reaches into the toy's internals. Memory is sampled with
 * the SDK's instrumentation right after a forced garbage collection and printed
 * as `mem <why> slots=<n> chunks=<bytes> peakSlots=<n> peakChunks=<bytes> gc=<n> nativeCrypto=<n>`
 * lines (slots: live slots; chunks: live chunk bytes; peaks since boot), ending with
 * `nativeCrypto=<n>`: the libsodium host-function calls since boot (hal/moddable-crypto.ts).
 *
 * `storage`: the heap slots one FileStore operation (hal/moddable-storage.ts, the
 * toy's storage adapter) allocates in the SDK's runtime, printed as
 * `storage.cost read=<slots> write=<slots> remove=<slots> base=<slots> bytes=<n> ops=<n>`
 * (each the mean over `ops` operations on values of `bytes` bytes in a directory of its
 * own, with no collection inside the run; -1 when one ran). The xsnap bench cannot
 * measure this (no `file` module there): bench/toy.bench.ts measures the storage fake
 * apart from the toy, and this is the device's counterpart.
 */
import { File } from 'file';
import config from 'mc/config';
import Instrumentation from 'instrumentation';
import Debug from 'debug';
import Timer from 'timer';

import main from '../hal/main-lin.js';
import { linButtons } from '../hal/lin-controls.js';
import { nativeCryptoStats } from '../hal/moddable-crypto.js';
import { runCryptoCheck } from './device-crypto-check.js';
import { FileStore } from '../hal/moddable-storage.js';
import { pairingVectorDigests } from './device-vectors.js';

interface Step {
  atMs: number;
  button: 'paw' | 'heart';
  down: boolean;
}
interface Scenario {
  steps?: Step[];
  memoryEveryMs?: number;
}

const ROOT = (config as unknown as { file?: { root?: string } }).file?.root ?? '';

function readText(path: string): string | undefined {
  try {
    if (!File.exists(path)) return undefined;
    const f = new File(path);
    const text = f.read(String) as string;
    f.close();
    return text;
  } catch {
    return undefined;
  }
}

function readScenario(): Scenario {
  const path = ROOT + 'scenario.json';
  try {
    if (!File.exists(path)) return {};
    const f = new File(path);
    const text = f.read(String) as string;
    f.close();
    return JSON.parse(text) as Scenario;
  } catch {
    trace('scenario.unreadable\n');
    return {};
  }
}

/** See the file comment (`storage`): slots per FileStore read, write and remove. */
function storageCost(slotIndex: number | undefined, gcIndex: number | undefined, slotBytes: number): string {
  const OPS = 8;
  const BYTES = 2700; // about one stored chunk record
  const store = new FileStore({ dir: ROOT + 'probe/' });
  const value = new Uint8Array(BYTES);
  for (let i = 0; i < BYTES; i++) value[i] = (i * 7 + 3) & 255;
  const keys: string[] = [];
  for (let i = 0; i < OPS; i++) keys.push('pb.' + i);
  for (let i = 0; i < OPS; i++) store.write(keys[i]!, value);
  const measure = (op: (k: string) => unknown): number => {
    Debug.gc();
    const g0 = Instrumentation.get(gcIndex) ?? 0;
    const s0 = Instrumentation.get(slotIndex) ?? 0;
    for (let i = 0; i < OPS; i++) op(keys[i]!);
    const s1 = Instrumentation.get(slotIndex) ?? 0;
    if ((Instrumentation.get(gcIndex) ?? 0) !== g0) return -1;
    return Math.round(((s1 - s0) / slotBytes / OPS) * 10) / 10;
  };
  const base = measure(() => undefined);
  const read = measure((k) => store.read(k));
  const write = measure((k) => store.write(k, value));
  const remove = measure((k) => store.remove(k));
  return `storage.cost read=${read} write=${write} remove=${remove} base=${base} bytes=${BYTES} ops=${OPS}`;
}

export default function scenarioMain(): void {
  const scenario = readScenario();
  const slotIndex = Instrumentation.map('XS Slot Heap Used');
  const chunkIndex = Instrumentation.map('XS Chunk Heap Used');
  const gcIndex = Instrumentation.map('XS Garbage Collection Count');
  const SLOT_BYTES = 32; // sizeof(txSlot) on 64-bit lin (16 on the ESP32)
  let peakSlots = 0;
  let peakChunks = 0;
  // Each sample first collects garbage (Debug.gc()), so `slots` and `chunks` are what is live:
  // the least heap the toy can run in at that moment. The runtime aborts with "memory full" below it.
  const sample = (why: string) => {
    Debug.gc();
    const slots = Math.round((Instrumentation.get(slotIndex) ?? 0) / SLOT_BYTES);
    const chunks = Instrumentation.get(chunkIndex) ?? 0;
    if (slots > peakSlots) peakSlots = slots;
    if (chunks > peakChunks) peakChunks = chunks;
    if (why) trace(`mem ${why} slots=${slots} chunks=${chunks} peakSlots=${peakSlots} peakChunks=${peakChunks} gc=${Instrumentation.get(gcIndex) ?? 0} nativeCrypto=${nativeCryptoStats.calls}\n`);
  };
  sample('before-main');
  main();
  sample('booted');
  if (scenario.memoryEveryMs && scenario.memoryEveryMs > 0) {
    let n = 0;
    Timer.repeat(() => {
      sample(++n % 5 === 0 ? 'tick' : '');
    }, scenario.memoryEveryMs);
  }
  const press = (button: string, down: boolean) => {
    const b = button === 'heart' ? linButtons.heart : linButtons.paw;
    trace(`scenario ${button} ${down ? 'down' : 'up'}\n`);
    b?.drive(down);
    sample(`${button}-${down ? 'down' : 'up'}`);
  };
  let done = 0;
  Timer.repeat(() => {
    const text = readText(ROOT + 'cmd');
    if (!text) return;
    const lines = text.split('\n').filter((l) => l.length > 0);
    while (done < lines.length) {
      const [what, how] = lines[done++]!.split(' ');
      if (what === 'mem') sample('cmd');
      else if (what === 'storage') {
        try {
          trace(`${storageCost(slotIndex, gcIndex, SLOT_BYTES)}\n`);
        } catch (e) {
          trace(`storage.cost threw=${e instanceof Error ? e.name : 'value'}\n`);
        }
      }
      else if (what === 'vectors') {
        try {
          const v = pairingVectorDigests();
          trace(`vectors pairing=${v.digests.join(',')} calls=${v.calls}\n`);
        } catch (e) {
          trace(`vectors threw=${e instanceof Error ? `${e.name}: ${e.message}` : 'value'}\n`);
        }
      } else if (what === 'crypto') {
        try {
          const c = runCryptoCheck(undefined, 0);
          trace(`crypto.check passed=${c.passed} failed=${c.failed}${c.failures.length ? ` first=${c.failures.join('|')}` : ''}\n`);
        } catch (e) {
          trace(`crypto.check passed=0 failed=1 threw=${e instanceof Error ? `${e.name}: ${e.message}` : 'value'}\n`);
        }
      }
      else if ((what === 'paw' || what === 'heart') && (how === 'down' || how === 'up')) press(what, how === 'down');
      else trace(`scenario.bad_command\n`);
    }
  }, 100);
  for (const step of scenario.steps ?? []) {
    Timer.set(() => press(step.button, step.down), step.atMs);
  }
  trace('scenario.started\n');
}
