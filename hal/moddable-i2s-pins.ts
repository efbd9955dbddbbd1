/**
 * The ATOM Echo's microphone (PDM, I2S0 RX) and speaker (NS4168 amplifier,
 * I2S TX) share the bit clock (GPIO19) and word select (GPIO33) pins, so only
 * one of `audioin` and `pins/audioout` may own them at a time. One instance of
 * this arbiter is given to both hal/moddable-mic.ts and hal/moddable-speaker.ts
 * (IO passed in as options); whichever starts second gets 'BUSY'.
 *
 * Boards with separate pins pass `shared: false`: then both may run at once.
 * Imports nothing; no allocation.
 */

/** Who holds the shared I2S pins. */
export type I2sOwner = 'mic' | 'speaker';

export class I2sPins {
  private holder: I2sOwner | undefined;
  /** Times a claim was refused because the other side held the pins. */
  refusals = 0;

  /** `shared`: true when mic and speaker use the same pins (the ATOM Echo). */
  constructor(readonly shared: boolean = true) {}

  /** Claims the pins for `who`. True when granted (or already held by `who`, or pins are not shared). */
  claim(who: I2sOwner): boolean {
    if (!this.shared) return true;
    if (this.holder === undefined || this.holder === who) {
      this.holder = who;
      return true;
    }
    this.refusals++;
    return false;
  }

  /** Releases the pins if `who` holds them; otherwise does nothing. */
  release(who: I2sOwner): void {
    if (this.holder === who) this.holder = undefined;
  }

  /** The current holder, if any. */
  owner(): I2sOwner | undefined {
    return this.holder;
  }
}
