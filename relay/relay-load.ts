import type { CliIo } from './relay-cli.js';
export async function runLoadCli(_argv: string[], io: CliIo): Promise<number> {
  io.err('relay: load: not written yet\n');
  return 2;
}
