/**
 * Node implementation of the Moddable SDK's `sm` (modules/network/ble/sm.js): the
 * IOCapability / Authorization constants and `SM.deleteAllBondings()` /
 * `SM.deleteBonding()`, which act on the simulated radio's bond store
 * (sim/moddable/ble-air.ts `air.bonds`). Bonds are never created by this simulation
 * (the PawPost adapter asks for no bonding); the store exists so tests can see
 * that stale bonds are wiped at start.
 */
import { air } from './ble-air.js';

export const IOCapability = Object.freeze({
  NoInputNoOutput: 0,
  DisplayOnly: 1,
  KeyboardOnly: 2,
  KeyboardDisplay: 3,
  DisplayYesNo: 4,
} as const);

export const Authorization = Object.freeze({
  None: 0,
  NoMITM: 1,
  MITM: 2,
  SignedNoMITM: 3,
  SignedMITM: 4,
} as const);

export class SM {
  /** Forgets every bond (the SDK also reports onBondingDeleted per bond to a live BLEServer). */
  static deleteAllBondings(): void {
    air.deleteAllBonds();
  }
  /** Forgets the bond with `address` (Bytes, 6 bytes). */
  static deleteBonding(address: ArrayBuffer, addressType = 0): void {
    air.deleteBond(address, addressType);
  }
}

export default SM;
