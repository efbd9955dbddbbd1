/*
 * Opus (libopus) for the toy, as XS host functions. Bound in
 * hal/moddable-codec.ts with native("xs_opus_*"); the simulator has Node
 * implementations of the same functions in sim/moddable/native.ts.
 *
 * One codec = one host object made by xs_opus_create(): it owns ONE block of
 * C memory (malloc, outside the XS chunk heap) holding an OpusEncoder and an
 * OpusDecoder, initialised in place with opus_encoder_init/opus_decoder_init.
 * Nothing is allocated per frame. xs_opus_close() frees the block at once;
 * the host object's destructor frees it if JS drops the object unclosed.
 *
 *   xs_opus_create(sampleRate, bitrate, complexity) -> codec
 *       mono, OPUS_APPLICATION_VOIP, VBR at `bitrate` bits/s;
 *       complexity 0..10, or -1 for libopus' default.
 *   xs_opus_encode(codec, pcmBuffer, pcmByteOffset, samples, packet[, packetOffset[, maxBytes]]) -> bytes
 *       encodes `samples` 16-bit samples at pcmBuffer[pcmByteOffset..] (the
 *       ArrayBuffer of the lent Int16Array, its byteOffset and length) into
 *       the lent Uint8Array `packet` at packetOffset (default 0), using at
 *       most maxBytes (default: the rest of `packet`; never more than 1275)
 *       as libopus' max_data_bytes; returns the packet length, 1..maxBytes.
 *       The record pipeline encodes straight into the sealer's plaintext
 *       this way (audio/record-pipeline.ts).
 *   xs_opus_decode(codec, packet, length, pcmBuffer, pcmByteOffset, samples[, packetOffset]) -> samples
 *       decodes packet[packetOffset..packetOffset + length) (packetOffset
 *       default 0: the playback pipeline decodes straight from an opened
 *       chunk's plaintext without a view per packet) into at most `samples`
 *       samples at pcmBuffer[pcmByteOffset..]; returns the samples written.
 *   xs_opus_reset(codec)   OPUS_RESET_STATE on both (between messages).
 *   xs_opus_close(codec)   frees the state; idempotent. Later calls throw.
 *
 * Why an ArrayBuffer + offset and not the Int16Array itself: xsmcGetBuffer
 * accepts only byte-sized views (an Int16Array throws "invalid buffer"), and
 * making a Uint8Array view per frame would allocate per frame.
 *
 * Every range is checked here again (the JS adapter checks first and turns a
 * throw into CodecError): a bad call throws, it never reads or writes outside
 * the lent buffers. libopus failures throw with the libopus error code in
 * the message, e.g. "opus_decode: -4 (corrupted stream)". Messages never
 * hold audio. The buffer addresses are taken after every other argument has
 * been read and nothing allocates before libopus returns, so the XS heap
 * cannot move them (GC compaction only runs on an allocation).
 *
 * Build: lin links the system libopus ("build": {"LIBRARIES": "-lopus"},
 * Debian libopus-dev); esp32 gets libopus as an ESP-IDF component (see
 * docs/HARDWARE.md "Opus codec").
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "xsmc.h"

#if ESP32
	#include "opus.h"
#else
	#include <opus/opus.h>
#endif

#define kOpusMaxPacket 1275

typedef struct {
	OpusEncoder *encoder;
	OpusDecoder *decoder;
	/* encoder and decoder state follow, each aligned to 16 bytes */
} OpusCodecRecord, *OpusCodec;

static size_t align16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

void xs_opus_destructor(void *data)
{
	if (data)
		free(data);
}

static OpusCodec getCodec(xsMachine *the, xsSlot *slot)
{
	OpusCodec codec = fxGetHostDataValidate(the, slot, (void *)xs_opus_destructor);
	if (!codec)
		xsUnknownError("opus codec closed");
	return codec;
}

/* Address of `samples` int16 samples at buffer[byteOffset..], bounds-checked. */
static opus_int16 *getPcm(xsMachine *the, xsSlot *buffer, xsIntegerValue byteOffset, xsIntegerValue samples, int writable)
{
	void *data;
	xsUnsignedValue size;

	if ((byteOffset < 0) || (byteOffset & 1))
		xsRangeError("pcm byteOffset");
	if (samples <= 0)
		xsRangeError("pcm samples");
	_xsmcGetBuffer(the, buffer, &data, &size, writable ? 1 : 0);
	if (((xsUnsignedValue)byteOffset > size) || ((size - (xsUnsignedValue)byteOffset) / 2 < (xsUnsignedValue)samples))
		xsRangeError("pcm outside its buffer");
	data = (uint8_t *)data + byteOffset;
	if ((uintptr_t)data & 1)
		xsRangeError("pcm not aligned");
	return data;
}

static void throwOpus(xsMachine *the, const char *what, int error)
{
	xsUnknownError("%s: %d (%s)", what, error, opus_strerror(error));
}

void xs_opus_create(xsMachine *the)
{
	xsIntegerValue sampleRate, bitrate, complexity;
	int encoderSize, decoderSize, error;
	OpusCodec codec;
	uint8_t *block;

	if (xsmcArgc < 3)
		xsUnknownError("xs_opus_create(sampleRate, bitrate, complexity)");
	sampleRate = xsmcToInteger(xsArg(0));
	bitrate = xsmcToInteger(xsArg(1));
	complexity = xsmcToInteger(xsArg(2));
	if ((complexity < -1) || (complexity > 10))
		xsRangeError("complexity");

	encoderSize = opus_encoder_get_size(1);
	decoderSize = opus_decoder_get_size(1);
	if ((encoderSize <= 0) || (decoderSize <= 0))
		xsUnknownError("opus state size");
	block = malloc(align16(sizeof(OpusCodecRecord)) + align16(encoderSize) + decoderSize);
	if (!block)
		xsUnknownError("no memory for opus state");
	codec = (OpusCodec)block;
	codec->encoder = (OpusEncoder *)(block + align16(sizeof(OpusCodecRecord)));
	codec->decoder = (OpusDecoder *)(block + align16(sizeof(OpusCodecRecord)) + align16(encoderSize));

	error = opus_encoder_init(codec->encoder, sampleRate, 1, OPUS_APPLICATION_VOIP);
	if (OPUS_OK == error)
		error = opus_encoder_ctl(codec->encoder, OPUS_SET_BITRATE(bitrate));
	if ((OPUS_OK == error) && (complexity >= 0))
		error = opus_encoder_ctl(codec->encoder, OPUS_SET_COMPLEXITY(complexity));
	if (OPUS_OK == error)
		error = opus_encoder_ctl(codec->encoder, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
	if (OPUS_OK == error)
		error = opus_decoder_init(codec->decoder, sampleRate, 1);
	if (OPUS_OK != error) {
		free(block);
		throwOpus(the, "opus_init", error);
	}

	xsResult = xsNewHostObject(xs_opus_destructor);
	xsmcSetHostData(xsResult, codec);
}

void xs_opus_encode(xsMachine *the)
{
	OpusCodec codec;
	xsIntegerValue byteOffset, samples;
	opus_int16 *pcm;
	void *packet;
	xsUnsignedValue packetSize;
	xsIntegerValue packetOffset = 0, maxBytes = -1;
	opus_int32 bytes;

	if (xsmcArgc < 5)
		xsUnknownError("xs_opus_encode(codec, pcmBuffer, pcmByteOffset, samples, packet[, packetOffset[, maxBytes]])");
	codec = getCodec(the, &xsArg(0));
	byteOffset = xsmcToInteger(xsArg(2));
	samples = xsmcToInteger(xsArg(3));
	if (xsmcArgc > 5)
		packetOffset = xsmcToInteger(xsArg(5));
	if (xsmcArgc > 6)
		maxBytes = xsmcToInteger(xsArg(6));
	pcm = getPcm(the, &xsArg(1), byteOffset, samples, 0);
	xsmcGetBufferWritable(xsArg(4), &packet, &packetSize);
	if ((packetOffset < 0) || ((xsUnsignedValue)packetOffset > packetSize))
		xsRangeError("packet offset");
	packet = (uint8_t *)packet + packetOffset;
	packetSize -= (xsUnsignedValue)packetOffset;
	if (maxBytes >= 0) {
		if ((maxBytes < 1) || ((xsUnsignedValue)maxBytes > packetSize))
			xsRangeError("packet room");
		packetSize = (xsUnsignedValue)maxBytes;
	}
	if (packetSize > kOpusMaxPacket)
		packetSize = kOpusMaxPacket;
	if (packetSize < 1)
		xsRangeError("packet room");

	bytes = opus_encode(codec->encoder, pcm, samples, packet, (opus_int32)packetSize);
	if (bytes < 0)
		throwOpus(the, "opus_encode", bytes);
	if (0 == bytes)
		xsUnknownError("opus_encode: empty packet");
	xsmcSetInteger(xsResult, bytes);
}

void xs_opus_decode(xsMachine *the)
{
	OpusCodec codec;
	void *packet;
	xsUnsignedValue packetSize;
	xsIntegerValue length, byteOffset, samples, packetOffset;
	opus_int16 *pcm;
	int decoded;

	if (xsmcArgc < 6)
		xsUnknownError("xs_opus_decode(codec, packet, length, pcmBuffer, pcmByteOffset, samples[, packetOffset])");
	codec = getCodec(the, &xsArg(0));
	length = xsmcToInteger(xsArg(2));
	byteOffset = xsmcToInteger(xsArg(4));
	samples = xsmcToInteger(xsArg(5));
	if ((length < 1) || (length > kOpusMaxPacket))
		xsRangeError("packet length");
	packetOffset = (xsmcArgc > 6) ? xsmcToInteger(xsArg(6)) : 0;
	if (packetOffset < 0)
		xsRangeError("packet offset");
	pcm = getPcm(the, &xsArg(3), byteOffset, samples, 1);
	xsmcGetBufferReadable(xsArg(1), &packet, &packetSize);
	if (((xsUnsignedValue)packetOffset > packetSize) || ((xsUnsignedValue)length > packetSize - (xsUnsignedValue)packetOffset))
		xsRangeError("packet length exceeds its buffer");

	decoded = opus_decode(codec->decoder, (const unsigned char *)packet + packetOffset, length, pcm, samples, 0);
	if (decoded < 0)
		throwOpus(the, "opus_decode", decoded);
	xsmcSetInteger(xsResult, decoded);
}

void xs_opus_reset(xsMachine *the)
{
	OpusCodec codec;
	int error;

	if (xsmcArgc < 1)
		xsUnknownError("xs_opus_reset(codec)");
	codec = getCodec(the, &xsArg(0));
	error = opus_encoder_ctl(codec->encoder, OPUS_RESET_STATE);
	if (OPUS_OK == error)
		error = opus_decoder_ctl(codec->decoder, OPUS_RESET_STATE);
	if (OPUS_OK != error)
		throwOpus(the, "opus_reset", error);
}

void xs_opus_close(xsMachine *the)
{
	OpusCodec codec;

	if (xsmcArgc < 1)
		xsUnknownError("xs_opus_close(codec)");
	codec = fxGetHostDataValidate(the, &xsArg(0), (void *)xs_opus_destructor);
	if (codec) {
		xsmcSetHostData(xsArg(0), NULL);
		free(codec);
	}
}
