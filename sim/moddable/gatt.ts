/**
 * Node stand-in for the Moddable SDK's `gatt` module as a BLE *server* sees it: the
 * shapes of the objects bleserver passes to its callbacks (hal/moddable-ble.ts imports
 * only these types). The SDK's `gatt` runtime classes (Client/Service/Characteristic
 * with discovery methods) belong to the BLE client role, which the toy does not use
 * and this simulation does not implement.
 */
import type { Bytes } from './btutils.js';

/** What onCharacteristicWritten / onCharacteristicRead / onCharacteristicNotifyEnabled receive. */
export interface Characteristic {
  uuid: Bytes;
  handle: number;
  /** The name in the GATT JSON (bleservices/*.json). */
  name: string;
  /** The value type in the GATT JSON ("Uint8Array", "String", ...). */
  type: string;
  /** Present on notify-state callbacks: 1 = notifications enabled, 0 = disabled. */
  notify?: number;
}

/** What onConnected / onDisconnected receive. */
export interface Client {
  /** The peer address (6 bytes). */
  address: Bytes;
  addressType: number;
  /** Connection handle. */
  connection: number;
}
