import test from 'ava';
import { playbackPipelineCases } from './playback-pipeline.cases.js';

for (const c of playbackPipelineCases) test(c.name, (t) => c.fn(t));
