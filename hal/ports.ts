/**
 * The ports: every capability the firmware needs from the platform, as
 * structural interfaces. src/ and audio/ see only these types; adapters live
 * in hal/ (device, over Moddable modules) and sim/ (host, over Node).
 *
 * Conventions for every port (after Tock's HALs):
 * - Units are in the names or the doc: milliseconds, samples, bytes.
 * - Buffers are LENT: a buffer passed into a port method belongs to the port
 *   only for the duration of the call unless the doc says otherwise; a buffer a
 *   port passes to a callback is valid only during that callback. Ports never
 *   allocate per audio frame.
 * - Errors: methods that can fail on a busy or full resource return a code
 *   (`PortStatus`) instead of throwing; programming errors and malformed input
 *   throw `PortError` with a `code`. Callbacks registered on a port are called
 *   by the platform and MUST NOT throw (adapters catch and route to `onError`).
 * - `close()` is safe to call twice.
 */

/** Status codes a port method may return (never thrown). */
export type PortStatus =
  | 'OK'
  | 'BUSY' // the resource is in use (try again later)
  | 'FULL' // no room: a queue or store is full
  | 'EMPTY' // nothing available to read
  | 'OFF'; // the resource is stopped or closed

/** Error codes carried by PortError. */
export type PortErrorCode =
  | 'INVAL' // an argument is out of range or malformed
  | 'SIZE' // a buffer or value has the wrong length
  | 'NOSPACE' // persistent storage is full
  | 'IO' // the hardware or OS reported a failure
  | 'CLOSED' // used after close()
  | 'NOSUPPORT'; // this platform lacks the capability

/** A typed error thrown by ports. `code` is stable; `message` never holds secrets. */
export class PortError extends Error {
  // A class field, not `this.name = ...`: XS on the device freezes the built-in
  // prototypes, and assigning over the frozen Error.prototype.name throws
  // TypeError ("set name: not writable", measured on the SDK's lin build).
  override readonly name = 'PortError';
  readonly code: PortErrorCode;
  constructor(code: PortErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

// ---------------------------------------------------------------- clock & timers

/** A scheduled callback; cancel() is safe to call twice and after it fired. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Time and timers. Device: Moddable `timer` + `Date.now()`; simulator: Node timers;
 * tests: a manual clock (`advance(ms)`) so a minute of audio runs in milliseconds.
 */
export interface ClockPort {
  /** Monotonic milliseconds since an arbitrary origin. */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch (may jump when SNTP sets it). */
  wallNow(): number;
  /** Calls cb once after `ms` milliseconds (>= 0). */
  after(ms: number, cb: () => void): TimerHandle;
  /** Calls cb every `ms` milliseconds (> 0) until cancelled. */
  every(ms: number, cb: () => void): TimerHandle;
}

// ---------------------------------------------------------------- random

/**
 * Cryptographically secure randomness. Device: ESP32 hardware RNG (with radio
 * on, or bootloader entropy); host: node:crypto. tweetnacl's PRNG is wired to it.
 */
export interface RandomPort {
  /** Fills all of `into` with random bytes. Throws PortError('IO') if no entropy. */
  fill(into: Uint8Array): void;
}

// ---------------------------------------------------------------- buttons & LED

/** Which physical control. The ATOM Echo has one button; a second (heart) is a GPIO. */
export type ButtonId = 'paw' | 'heart';

/**
 * A push button, debounced by the adapter. Device: `pins/digital/monitor`.
 */
export interface ButtonPort {
  readonly id: ButtonId;
  /** Current state: true while pressed. */
  read(): boolean;
  /** Registers the one edge callback (replaces any earlier). atMs is ClockPort.now(). Must not throw. */
  onChange(cb: (pressed: boolean, atMs: number) => void): void;
  close(): void;
}

/**
 * The RGB LED in the heart. Device: `pins/pwm` per channel or an SK6812 driver.
 * Patterns (blink, glow) are made by src/ with the ClockPort, not by the adapter.
 */
export interface LedPort {
  /** Sets the colour; each channel 0..255 (clamped). */
  set(r: number, g: number, b: number): void;
  close(): void;
}

/**
 * The paw, the heart and the heart's LED, as one platform opens them
 * (hal/board-controls.ts on esp32, hal/lin-controls.ts on lin).
 */
export interface BoardControls {
  paw: ButtonPort;
  heart: ButtonPort;
  led: LedPort;
  /** Which implementation: 'gpio' (device) or 'scenario' (lin: driven by software). */
  kind: 'gpio' | 'scenario';
}

// ---------------------------------------------------------------- audio

/** Audio format of the whole toy: 16 kHz, mono, signed 16-bit, 20 ms frames. */
export const SAMPLE_RATE_HZ = 16000;
export const FRAME_SAMPLES = 320;
export const FRAME_MS = 20;

/**
 * The microphone. Device: Moddable `audioin` (PDM on the ATOM Echo).
 * The mic adapter's own ring is the capture buffer (it fills it on its own timer);
 * the record pipeline encodes straight from a slot it lends (peek/release), so
 * capture never waits for the encoder, the sealer or the flash beyond the ring's depth.
 */
export interface MicPort {
  /** Starts capture. Returns 'BUSY' while the speaker holds the shared I2S pins. */
  start(): PortStatus;
  /** Stops capture; frames not yet released are dropped. */
  stop(): void;
  /** Whole frames ready to read now. */
  available(): number;
  /**
   * Lends the oldest captured frame (FRAME_SAMPLES samples), or null when none is
   * ready or the mic is stopped. The slot belongs to the caller until release(),
   * which it calls before returning to the event loop (the adapter never overwrites
   * a lent slot); peek() again before release() lends the same frame.
   */
  peek(): Int16Array | null;
  /** Frees the frame lent by peek() or next() (the next peek() lends the next frame). No-op when nothing is lent. */
  release(): void;
  /**
   * release() then peek() in one call (the record pipeline's loop: one mic call per
   * frame): frees the frame lent before, if any, and lends the next one, or null
   * when none is ready (then nothing is lent).
   */
  next(): Int16Array | null;
  /**
   * Copies one frame of FRAME_SAMPLES samples into `into` (lent; length must be
   * FRAME_SAMPLES, else PortError('SIZE')). Returns 'OK', or 'EMPTY' when no
   * frame is ready, or 'OFF' when stopped. (For callers that own a buffer; the
   * record pipeline uses peek/release.)
   */
  read(into: Int16Array): PortStatus;
  close(): void;
}

/**
 * The speaker. Device: `pins/audioout` with RawSamples from a SharedArrayBuffer.
 * Two ways in (issue 13):
 * - zero-copy (the playback pipeline's path): `reserve()` lends the adapter's next
 *   free pool slot (FRAME_SAMPLES samples) and the decoder writes straight into it;
 *   `commit()` queues it. The slot belongs to the caller from reserve() until
 *   commit() or stop(); after a commit that threw or was not made, the next
 *   reserve() lends the same slot with its samples unchanged (so a decoded frame
 *   is not lost to a failing driver call).
 * - copying: `write(frame)` copies a lent frame into a slot and queues it.
 */
export interface SpeakerPort {
  /** Starts output. Returns 'BUSY' while the mic holds the shared I2S pins. */
  start(): PortStatus;
  stop(): void;
  /** How many frames write() (or reserve()/commit()) would accept now. */
  space(): number;
  /** Queues one frame (FRAME_SAMPLES samples, lent: copied). Returns 'OK', 'FULL' or 'OFF'. */
  write(frame: Int16Array): PortStatus;
  /** Lends the next free slot (FRAME_SAMPLES samples), or null when full or stopped. Allocates nothing. */
  reserve(): Int16Array | null;
  /** Queues the slot lent by the last reserve(). 'OK', 'FULL' (nothing reserved, or no room) or 'OFF' (stopped). */
  commit(): PortStatus;
  /** Volume 0..1. */
  setVolume(v: number): void;
  close(): void;
}

/**
 * Opus codec, 16 kHz mono, VOIP application, 16 kbps, 20 ms frames.
 * Device: native libopus bound with native("xs_opus_*"); host: an npm codec.
 * Errors are thrown as CodecError (audio/codec-port.ts) and never corrupt state.
 * The pipelines lend the mic adapter's slot, the sealer's plaintext and the
 * playback buffers (audio/record-pipeline.ts, audio/playback-pipeline.ts): never keep them.
 */
export interface CodecPort {
  /**
   * Encodes one frame of FRAME_SAMPLES samples (lent) into `out[offset..offset+maxBytes)`
   * (lent; default offset 0 and maxBytes = what is left of `out`, at most 1275).
   * maxBytes must be MIN_ENCODE_ROOM (256)..1275 inside `out`, else CodecError('SIZE')
   * (audio/codec-port.ts checkPacketOut). Returns the packet length in bytes,
   * 1..maxBytes; nothing outside out[offset..offset+maxBytes) is written, but the room
   * after the packet may be (libopus uses it as scratch): a caller that needs those
   * bytes zero zeroes them after (the sealer zeroes its padding before sealing).
   */
  encode(pcm: Int16Array, out: Uint8Array, offset?: number, maxBytes?: number): number;
  /**
   * Decodes one packet `packet[offset..offset + length)` (lent; offset defaults to 0,
   * so the playback pipeline decodes straight from an opened chunk's plaintext) into
   * `out` (lent, FRAME_SAMPLES samples). Returns the number of samples written
   * (FRAME_SAMPLES). A length outside 1..1275 or a range beyond `packet` is CodecError SIZE.
   */
  decode(packet: Uint8Array, length: number, out: Int16Array, offset?: number): number;
  /** Resets codec state between messages. */
  reset(): void;
  close(): void;
}

// ---------------------------------------------------------------- storage

/**
 * Durable key-value storage. Device: LittleFS files (`file`) for messages and
 * state; the factory identity is read from NVS (`preference`, namespace "pawpost")
 * through a second, read-only instance. Simulator: files; tests: an in-memory
 * fake that survives a simulated restart and can be made to fail.
 *
 * Invariants: keys are 1..15 characters of [A-Za-z0-9._-] (the NVS limit);
 * values are at most MAX_VALUE_BYTES; write() of one key is atomic (after a power
 * cut the key holds either the old or the new value, whole).
 */
export interface StoragePort {
  /** Returns a copy of the value, or undefined when the key is absent. */
  read(key: string): Uint8Array | undefined;
  /** Replaces the value atomically. Throws PortError INVAL (bad key), SIZE (too large), NOSPACE, IO. */
  write(key: string, value: Uint8Array): void;
  /** Removes the key; removing an absent key is not an error. Throws PortError IO. */
  remove(key: string): void;
  /** Keys that start with prefix (all keys when omitted), in ascending order. */
  keys(prefix?: string): string[];
}
export const STORAGE_MAX_KEY = 15;
export const STORAGE_MAX_VALUE_BYTES = 4000;

/** A character outside [A-Za-z0-9._-]; more than STORAGE_MAX_KEY (15) characters. */
const STORAGE_KEY_BAD_CHAR = /[^A-Za-z0-9._-]/;
const STORAGE_KEY_TOO_LONG = /^[\s\S]{16}/;

/**
 * True when `key` is a valid StoragePort key: a string of 1..STORAGE_MAX_KEY (15)
 * characters of [A-Za-z0-9._-]. Every storage operation checks its key, so the check
 * allocates nothing for a valid key on XS (issue 13; measured with xsnap): two RegExp
 * tests that do not match (a RegExp that matches costs about 6 heap slots, a `.length`
 * or charCodeAt on a string primitive 2 each).
 */
export function isStorageKey(key: unknown): key is string {
  return typeof key === 'string' && key !== '' && !STORAGE_KEY_BAD_CHAR.test(key) && !STORAGE_KEY_TOO_LONG.test(key);
}

// ---------------------------------------------------------------- BLE peripheral

/**
 * A GATT peripheral, reduced to what the pairing service needs. Characteristics
 * are named as in bleservices/*.json (`info`, `pair`, `session`). Device:
 * Moddable `bleserver` + `sm` (hal/moddable-ble.ts; Just Works, no bonding: the
 * application authenticates itself, see docs/PROTOCOL.md "## Pairing");
 * simulator and tests: sim/ble-sim.ts (an in-process fake radio).
 *
 * Connections: the device allows one central at a time; a port may still report
 * a second 'connect' (the simulator can), and the pairing service drops it.
 * Events are delivered on the JS thread; a handler may take seconds (X25519 on
 * the ESP32) without harming the link (the stack runs in its own task).
 * Writes arrive whole (the stack reassembles long writes up to the
 * characteristic's maxBytes); reads are answered synchronously through `reply`.
 */
export interface BlePeripheralPort {
  /** Starts (or keeps) advertising the pairing service under `name` (connectable). Idempotent. */
  startAdvertising(name: string): void;
  /** Stops advertising; idempotent. Existing connections stay. */
  stopAdvertising(): void;
  /** Sends a notification on characteristic `characteristic` (lent value) to the connected central. Returns 'OFF' with no connection or notifications not enabled. */
  notify(characteristic: string, value: Uint8Array): PortStatus;
  /** Drops connection `connection` (default: the current one), if any. A 'disconnect' event follows, possibly synchronously. */
  disconnect(connection?: number): void;
  /** One handler for all events; handlers must not throw. `value` is lent. */
  onEvent(handler: (e: BleEvent) => void): void;
  close(): void;
}
export type BleEvent =
  | { kind: 'connect'; connection: number }
  | { kind: 'disconnect'; connection: number }
  | { kind: 'write'; connection: number; characteristic: string; value: Uint8Array }
  | { kind: 'read'; connection: number; characteristic: string; reply: (value: Uint8Array) => void };

// ---------------------------------------------------------------- network

/**
 * A byte-stream socket (TCP, TLS on the device). Device: Moddable socket /
 * SecureSocket (hal/moddable-socket.ts); simulator: node:net (sim/node-socket.ts).
 * One connection at a time per instance; after its 'close' event, connect() may be
 * called again (the MQTT session reuses one instance across reconnects).
 */
export interface SocketPort {
  /** Starts connecting; events report the outcome. Returns 'BUSY' when already connected or connecting. */
  connect(host: string, port: number): PortStatus;
  /** Queues bytes (lent: copied before return). Returns 'OK', 'FULL' (back-pressure) or 'OFF'. */
  write(bytes: Uint8Array): PortStatus;
  /** Closes; a 'close' event follows unless already closed. Safe to call twice. */
  close(): void;
  /** One handler for all events; must not throw. `data` is lent. */
  onEvent(handler: (e: SocketEvent) => void): void;
}
export type SocketEvent =
  | { kind: 'connect' }
  | { kind: 'data'; data: Uint8Array }
  | { kind: 'writable' }
  | { kind: 'close'; error?: string };

/**
 * The toy's link to the local network (Wi-Fi station on the device:
 * hal/moddable-network.ts over the SDK's `wifi` and `sntp`).
 *
 * join() starts (or restarts, with new settings) joining; the adapter keeps
 * reconnecting with backoff after a loss until close() or leave(). After an
 * address is obtained it sets the wall clock once by SNTP (when a server is
 * configured). State changes go to the one onState handler, which must not throw.
 * Errors: join() answers 'OFF' after close(); never throws.
 */
export interface NetworkPort {
  /** Joins `ssid` with `passphrase` ('' for an open network). Secrets are never logged. */
  join(ssid: string, passphrase: string): PortStatus;
  /** Disconnects and stops reconnecting. */
  leave(): void;
  /** True while the toy has an address. */
  isUp(): boolean;
  onState(handler: (up: boolean) => void): void;
  /** Safe to call twice. */
  close(): void;
}

// ---------------------------------------------------------------- crypto

/**
 * NaCl primitives (libsodium-compatible). Host and XS: tweetnacl; device:
 * native libsodium behind the same interface. All keys and nonces are fixed
 * size: keys 32 bytes, box/secretbox nonces 24 bytes. Returned buffers are new
 * (owned by the caller). Wrong sizes throw PortError('SIZE').
 */
export interface CryptoPort {
  /** X25519 key pair from a 32-byte secret. */
  boxKeyPairFromSecret(secretKey: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array };
  /** X25519 + HSalsa20 precomputation (crypto_box_beforenm). Expensive: cache the result. */
  boxBefore(theirPublic: Uint8Array, mySecret: Uint8Array): Uint8Array;
  /** crypto_secretbox (XSalsa20-Poly1305): returns 16-byte tag + ciphertext. */
  secretbox(message: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array;
  /** crypto_secretbox_open: the plaintext, or null when authentication fails. */
  secretboxOpen(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null;
  /** Poly1305 one-time authenticator (crypto_onetimeauth): the 16-byte tag of `message` under a 32-byte one-time key. */
  onetimeauth(message: Uint8Array, key: Uint8Array): Uint8Array;
  /**
   * Optional, allocation-free crypto_secretbox (the sealer uses it when present, issue 13):
   * the `length` message bytes at buf[offset+16..) are encrypted in place and the 16-byte
   * tag is written at buf[offset..offset+16), giving secretbox()'s box in place. Lent buffers.
   */
  secretboxInPlace?(buf: Uint8Array, offset: number, length: number, nonce: Uint8Array, key: Uint8Array): void;
  /** Optional, allocation-free onetimeauth: the tag of buf[offset..offset+length) into `out16` (16 bytes, lent). */
  onetimeauthInto?(out16: Uint8Array, buf: Uint8Array, offset: number, length: number, key: Uint8Array): void;
  /**
   * Optional, allocation-free crypto_secretbox_open (the toy's playback opens stored chunks
   * with it, issue 13): the box at buf[offset..offset+16+length) (16-byte tag, then `length`
   * ciphertext bytes) is checked and, only when its tag verifies, decrypted in place: the
   * plaintext is then buf[offset+16..offset+16+length), the same bytes secretboxOpen returns.
   * Returns false (buffer unchanged) when the tag does not verify. A range outside `buf`:
   * PortError('SIZE'); other argument errors as secretboxOpen. Lent buffers.
   */
  secretboxOpenInPlace?(buf: Uint8Array, offset: number, length: number, nonce: Uint8Array, key: Uint8Array): boolean;
  /** Raw X25519 scalar multiplication (crypto_scalarmult). */
  scalarMult(scalar: Uint8Array, point: Uint8Array): Uint8Array;
  /** SHA-512 (crypto_hash). */
  sha512(message: Uint8Array): Uint8Array;
  /** Ed25519 detached signature check. */
  signVerify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean;
}

// ---------------------------------------------------------------- log

/** Log levels, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Structured log. Device: `trace`; simulator: stdout. Callers never pass secrets
 * (keys, setup secret, passphrases, message plaintext) in `fields`.
 */
export interface LogPort {
  log(level: LogLevel, event: string, fields?: Record<string, string | number | boolean>): void;
}

// ---------------------------------------------------------------- firmware update (issue 14)

/**
 * Streaming SHA-256 (FIPS 180-4). Device: the SDK's `crypt` Digest("SHA256")
 * (native, hal/moddable-update.ts); host and XS tests: src/sha256.ts (pure JS).
 * Kept apart from CryptoPort so that native crypto work there and this port
 * do not collide. One stream hashes one message: create(), update()* , digest().
 */
export interface Sha256Port {
  create(): Sha256Stream;
}
export interface Sha256Stream {
  /** Adds bytes (lent). Throws PortError CLOSED after digest(). */
  update(bytes: Uint8Array): void;
  /** The 32-byte digest; ends the stream. */
  digest(): Uint8Array;
}

/** What the running image is, as the bootloader sees it. */
export type RunningImageState =
  | 'confirmed' // valid: the bootloader keeps booting it
  | 'pending'; // first boot after a switch: must confirm() or the next reset rolls back

/**
 * The inactive OTA slot and the boot selection. Device: the SDK's `ota` module
 * plus esp_ota_mark_app_* (hal/moddable-update.ts); simulator: files
 * (sim/file-update-slot.ts); tests: tests/fakes/fake-update-slot.ts (cuts power at any step).
 *
 * Contract (ESP-IDF app rollback, CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE):
 * - begin(size) erases/opens the inactive slot; write() appends in order; abort() forgets it.
 * - finish() closes the image; it is not bootable until switchTo().
 * - switchTo() makes the finished image the next boot, in the pending state.
 *   A reset before confirm() boots the previous image (the bootloader's rollback).
 * - confirm() marks the running pending image valid; rollback() marks it invalid
 *   and restarts into the previous image (does not return on the device).
 * Errors: PortError IO (flash), INVAL (order, size beyond capacity), NOSUPPORT.
 */
export interface UpdateSlotPort {
  /** Bytes the inactive slot holds. */
  capacity(): number;
  begin(sizeBytes: number): void;
  write(chunk: Uint8Array): void;
  finish(): void;
  abort(): void;
  switchTo(): void;
  runningState(): RunningImageState;
  confirm(): void;
  rollback(): void;
}
