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
