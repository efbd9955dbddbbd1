/**
 * Opus packets for the toy from the bytes of an audio file a parent chose: Ogg Opus
 * (packets kept as they are) or WAV at any rate and channel count (resampled to
 * 16 kHz mono and encoded with the host Opus codec). Recognised by the first bytes,
 * never by the name. Shared by `npm run parent -- send` (tools/parent-cli.ts) and
 * the simulator page's "send a file" (sim/parent-app.ts).
 *
 * Errors: AudioImportError (phone/audio-import.ts) FORMAT (neither format, or a
 * damaged file), UNSUPPORTED, TOO_LONG (over 60 s), EMPTY; its message is in words
 * and never holds audio data.
 */
import { AudioImportError, decodeWavToMono16k, encodePcm, importOggOpus } from '../phone/audio-import.js';
import { OpusCodecHost } from './opus-codec-host.js';

/** Largest file accepted: 60 s of 48 kHz 16-bit stereo WAV (11.5 MB) and a little more. */
export const MAX_AUDIO_FILE_BYTES = 12 * 1024 * 1024;

export interface FilePackets {
  packets: Uint8Array[];
  /** What was done with the file, in words ("WAV at 44100 Hz, sent as 16 kHz mono Opus"). */
  note: string;
}

/** Opus packets from a WAV or Ogg Opus file's bytes. Throws AudioImportError. */
export function packetsFromAudioBytes(bytes: Uint8Array): FilePackets {
  if (bytes.length > MAX_AUDIO_FILE_BYTES) throw new AudioImportError('TOO_LONG', `the file is ${bytes.length} bytes, more than ${MAX_AUDIO_FILE_BYTES}`);
  const magic = bytes.length >= 4 ? String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!) : '';
  if (magic === 'OggS') {
    const f = importOggOpus(bytes);
    return { packets: f.packets, note: 'Ogg Opus, packets kept as they are' };
  }
  if (magic === 'RIFF') {
    const pcm = decodeWavToMono16k(bytes);
    const codec = new OpusCodecHost();
    try {
      return { packets: encodePcm(pcm.samples, codec), note: `WAV at ${pcm.sourceRate} Hz, sent as 16 kHz mono Opus` };
    } finally {
      codec.close();
    }
  }
  throw new AudioImportError('FORMAT', 'neither a WAV nor an Ogg Opus file');
}
