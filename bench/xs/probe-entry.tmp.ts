import './toy-entry.js';
import { onXsCommand } from '../../tests/xs/commands.js';
onXsCommand('patch', (what) => {
  const g = globalThis as any;
  return g.__patch(what);
});
