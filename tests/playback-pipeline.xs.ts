import { test } from './xs/harness.js';
import { playbackPipelineCases } from './playback-pipeline.cases.js';

for (const c of playbackPipelineCases) test(c.name, (t) => c.fn(t));
