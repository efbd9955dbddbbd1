import { XsSession } from './tools/xs-worker.js';
import { ensureNativeWorker } from './tools/xs-native/xs-native-build.js';
const ENTRY = new URL('./bench/xs/probe-entry.tmp.ts', import.meta.url).pathname;
const w = await ensureNativeWorker();
if ('skipped' in w) throw new Error(w.skipped);
for (const patch of (process.argv[2] ?? 'none,pump,send').split(',')) {
  const s = await XsSession.start(ENTRY, { nativeBin: w.bin, name: 'probe-native' });
  await s.call('prepare'); await s.call('boot'); await s.call('pair'); await s.call('paired');
  await s.call('record', 2); await s.call('lean'); await s.call('recordLean', 2);
  if (patch !== 'none') await s.call('patch', patch);
  await s.call('collect'); const h0 = (await s.call('noop')).heapCount!;
  const r = await s.call('recordLean', 10);
  console.log(patch, r.heapCount! - h0, r.result);
  await s.close();
}
