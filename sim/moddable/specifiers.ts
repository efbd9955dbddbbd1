/**
 * Moddable module specifier → its Node implementation in sim/moddable/.
 * Used by sim/moddable-loader.ts (node:module hooks) and available to esbuild
 * alias builds. Convention: the file is the specifier with '/' turned into '-'
 * (`pins/audioout` → pins-audioout.ts). Each owner adds their own rows.
 */
export const MODDABLE_SPECIFIERS: Readonly<Record<string, string>> = {
  // ---- device adapters of the Moddable-side owner (hal/moddable-{clock,storage,button,led,mic,speaker,globals})
  timer: 'timer.ts',
  time: 'time.ts', // Time.ticks for hal/moddable-clock.ts (pairing lockout timing, issue 11)
  preference: 'preference.ts',
  file: 'file.ts',
  'pins/digital/monitor': 'pins-digital-monitor.ts',
  neopixel: 'neopixel.ts',
  audioin: 'audioin.ts',
  'pins/audioout': 'pins-audioout.ts',
  'mc/config': 'mc-config.ts',
  'text/encoder': 'text-encoder.ts',
  'text/decoder': 'text-decoder.ts',
  // ---- BLE (hal/moddable-ble.ts; files owned by the BLE engineer)
  bleserver: 'bleserver.ts',
  sm: 'sm.ts',
  btutils: 'btutils.ts',
  gatt: 'gatt.ts',
  // ---- network (hal/moddable-socket.ts; files owned by the network engineer)
  socket: 'socket.ts',
  securesocket: 'securesocket.ts',
  // ---- network link (hal/moddable-network.ts)
  wifi: 'wifi.ts',
  net: 'net.ts', // Net.resolve for hal/moddable-sntp.ts (the SNTP client over a UDP socket)
  // ---- add further Moddable modules here (e.g. 'ota')
};
