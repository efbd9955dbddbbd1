/**
 * The board configuration from the manifest ("config", read through Moddable's
 * `mc/config`), typed. The simulator's mc/config reads the same manifest.json.
 */
import config from 'mc/config';

export interface BoardConfig {
  pawPin: number;
  pawPull?: 'up' | 'down' | 'none';
  heartPin: number;
  heartPull?: 'up' | 'down' | 'none';
  ledPin: number;
  ledOrder?: string;
  ledMaxLevel?: number;
  i2sShared?: boolean;
  speakerSlots?: number;
  storeDir?: string;
  nvsNamespace?: string;
}

export interface FirmwareConfig {
  firmwareVersion?: string;
  board: BoardConfig;
  file?: { root?: string };
  /** TLS to the broker (default true). */
  useTls?: boolean;
  /** SNTP server that sets the wall clock once the network is up ('' for none). */
  sntp?: string;
}

export const firmwareConfig = config as unknown as FirmwareConfig;
