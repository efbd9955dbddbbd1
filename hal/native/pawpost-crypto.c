/*
 * NaCl primitives for the toy over libsodium, as XS host functions. Bound in
 * hal/moddable-crypto.ts with native("xs_pawpost_*"), which puts them behind
 * the CryptoPort (hal/ports.ts). The simulator implements the same functions
 * on tweetnacl (sim/moddable/native.ts); src/nacl-crypto.ts stays the
 * reference: both give the same bytes (tests/vectors, tools/device-test.ts).
 *
 * A "range" below is (buffer, offset, length): `buffer` is an ArrayBuffer, a
 * Uint8Array or a DataView (for a view, `offset` counts from the view's own
 * start), and the function works in place on buffer[offset, offset+length).
 * A fixed-size argument (key, nonce, tag, output) is a byte buffer of exactly
 * that size. Nothing is allocated; no input is copied.
 *
 *   xs_pawpost_x25519_base(out32, scalar32)
 *       out = X25519(scalar, 9): the public key of a secret key.
 *   xs_pawpost_x25519(out32, scalar32, point32) -> boolean
 *       out = X25519(scalar, point); false when the result is all zero (a
 *       small-order point). out is written either way, as tweetnacl does.
 *   xs_pawpost_box_before(out32, theirPublic32, mySecret32) -> boolean
 *       out = HSalsa20(X25519(mySecret, theirPublic), 0) (crypto_box_beforenm);
 *       false when the shared point is all zero. out is written either way
 *       (tweetnacl's nacl.box.before gives the same bytes); PawPost refuses
 *       small-order keys before this (src/key-checks.ts).
 *   xs_pawpost_secretbox_seal(buffer, offset, length, nonce24, key32)
 *       buffer[offset, offset+16) receives the Poly1305 tag and the `length`
 *       plaintext bytes at buffer[offset+16, ...) are encrypted in place:
 *       the result is crypto_secretbox_easy's (= nacl.secretbox's) box.
 *   xs_pawpost_secretbox_open(buffer, offset, length, nonce24, key32) -> boolean
 *       the box is buffer[offset, offset+16+length) (tag, then `length`
 *       ciphertext bytes); on success the ciphertext is decrypted in place and
 *       true is returned. On a bad tag nothing is written and false returned.
 *   xs_pawpost_onetimeauth(out16, buffer, offset, length, key32)
 *       out = Poly1305(buffer[offset, offset+length), key).
 *   xs_pawpost_sha512(out64, buffer, offset, length)
 *       out = SHA-512(buffer[offset, offset+length)).
 *   xs_pawpost_sign_verify(signature64, buffer, offset, length, publicKey32) -> boolean
 *       Ed25519 detached signature check (libsodium's: it also refuses a
 *       non-canonical S and small-order keys, which tweetnacl accepts).
 *
 * Errors: a missing argument, a buffer of the wrong kind or size throws
 * TypeError; an offset or length that is not an integer inside the buffer
 * throws RangeError; a detached buffer throws TypeError ("detached buffer",
 * from xsmcGetBuffer*); a read-only output throws TypeError. A bad call never
 * reads or writes outside the lent buffers. Messages never hold key material.
 * The adapter checks first and turns a throw into PortError.
 *
 * Relocation: the XS heap may move ArrayBuffer data on an allocation, and
 * xsmcToInteger may run JS (valueOf). So every number is read first, then the
 * buffer addresses are taken, and nothing allocates until libsodium returns.
 *
 * Constant time: as libsodium (X25519, Poly1305 verify, Salsa20 and the
 * comparison of tags are constant-time there); nothing here branches on
 * secret data.
 *
 * Randomness: none is drawn here. Keys and nonces come from the RandomPort
 * (hal/native/pawpost-random.c: esp_fill_random() on the ESP32, getrandom(2)
 * on lin), so libsodium's own randombytes is never used.
 *
 * Build: lin links Debian's libsodium ("build": {"LIBRARIES": "-lsodium"},
 * libsodium-dev); esp32 gets libsodium as an ESP-IDF component (manifest
 * "dependency", espressif/libsodium; see docs/HARDWARE.md "Native crypto").
 */
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "xsmc.h"

static int gSodiumReady = 0;

/* sodium_init() picks the fastest implementations; idempotent. It fails only when the
   platform RNG cannot be opened (libsodium's randombytes, which PawPost does not use),
   so its result is not a reason to refuse: the primitives used here need no RNG. */
static void pawpostSodiumInit(void)
{
	if (!gSodiumReady) {
		/* tested, not cast to void: gcc's warn_unused_result ignores a (void) cast */
		if (sodium_init() < 0) {
			/* only libsodium's own RNG could not be opened: unused here (see above) */
		}
		gSodiumReady = 1;
	}
}

static void needArgs(xsMachine *the, xsIntegerValue count)
{
	if (xsmcArgc < count)
		xsTypeError("expected %d arguments", (int)count);
}

/* An integer in [0, 0x7FFFFFFF]: anything else (fraction, NaN, negative, huge) throws RangeError. */
static xsUnsignedValue getIndex(xsMachine *the, xsIntegerValue at, const char *what)
{
	double v;

	if ((xsmcTypeOf(xsArg(at)) != xsIntegerType) && (xsmcTypeOf(xsArg(at)) != xsNumberType))
		xsTypeError("%s: not a number", what);
	v = xsmcToNumber(xsArg(at));
	if (!(v >= 0) || (v > 2147483647.0) || (v != (double)(xsIntegerValue)v))
		xsRangeError("%s out of range", what);
	return (xsUnsignedValue)v;
}

/* A buffer of exactly `size` bytes. */
static uint8_t *getFixed(xsMachine *the, xsIntegerValue at, xsUnsignedValue size, xsBooleanValue writable, const char *what)
{
	void *data;
	xsUnsignedValue count;

	if (writable)
		xsmcGetBufferWritable(xsArg(at), &data, &count);
	else
		xsmcGetBufferReadable(xsArg(at), &data, &count);
	if (count != size)
		xsTypeError("%s must be %u bytes", what, (unsigned)size);
	return (uint8_t *)data;
}

/* buffer[offset, offset+need) inside the buffer; overflow-safe. */
static uint8_t *getRange(xsMachine *the, xsIntegerValue at, xsUnsignedValue offset, xsUnsignedValue need, xsBooleanValue writable)
{
	void *data;
	xsUnsignedValue count;

	if (writable)
		xsmcGetBufferWritable(xsArg(at), &data, &count);
	else
		xsmcGetBufferReadable(xsArg(at), &data, &count);
	if ((offset > count) || (need > (count - offset)))
		xsRangeError("range outside the buffer");
	return (uint8_t *)data + offset;
}

void xs_pawpost_x25519_base(xsMachine *the)
{
	uint8_t *out, *scalar;

	needArgs(the, 2);
	pawpostSodiumInit();
	out = getFixed(the, 0, crypto_scalarmult_BYTES, 1, "out");
	scalar = getFixed(the, 1, crypto_scalarmult_SCALARBYTES, 0, "scalar");
	if (crypto_scalarmult_base(out, scalar) != 0)
		xsUnknownError("x25519 base failed");
}

void xs_pawpost_x25519(xsMachine *the)
{
	uint8_t *out, *scalar, *point;
	int ok;

	needArgs(the, 3);
	pawpostSodiumInit();
	out = getFixed(the, 0, crypto_scalarmult_BYTES, 1, "out");
	scalar = getFixed(the, 1, crypto_scalarmult_SCALARBYTES, 0, "scalar");
	point = getFixed(the, 2, crypto_scalarmult_BYTES, 0, "point");
	/* libsodium returns -1 for an all-zero result, which it leaves in out */
	ok = (crypto_scalarmult(out, scalar, point) == 0);
	xsmcSetBoolean(xsResult, ok);
}

void xs_pawpost_box_before(xsMachine *the)
{
	static const uint8_t zero[16] = { 0 };
	uint8_t shared[crypto_scalarmult_BYTES];
	uint8_t *out, *theirPublic, *mySecret;
	int ok;

	needArgs(the, 3);
	pawpostSodiumInit();
	out = getFixed(the, 0, crypto_box_BEFORENMBYTES, 1, "out");
	theirPublic = getFixed(the, 1, crypto_box_PUBLICKEYBYTES, 0, "public key");
	mySecret = getFixed(the, 2, crypto_box_SECRETKEYBYTES, 0, "secret key");
	/* crypto_box_beforenm refuses an all-zero shared point without writing out; tweetnacl
	   hashes it. Both steps by hand give tweetnacl's bytes and still report the refusal. */
	ok = (crypto_scalarmult(shared, mySecret, theirPublic) == 0);
	crypto_core_hsalsa20(out, zero, shared, NULL);
	sodium_memzero(shared, sizeof(shared));
	xsmcSetBoolean(xsResult, ok);
}

void xs_pawpost_secretbox_seal(xsMachine *the)
{
	xsUnsignedValue offset, length;
	uint8_t *box, *nonce, *key;

	needArgs(the, 5);
	offset = getIndex(the, 1, "offset");
	length = getIndex(the, 2, "length");
	if (length > 0x7FFFFFFF - crypto_secretbox_MACBYTES)
		xsRangeError("length out of range");
	pawpostSodiumInit();
	box = getRange(the, 0, offset, crypto_secretbox_MACBYTES + length, 1);
	nonce = getFixed(the, 3, crypto_secretbox_NONCEBYTES, 0, "nonce");
	key = getFixed(the, 4, crypto_secretbox_KEYBYTES, 0, "key");
	/* in place: libsodium allows c == m */
	if (crypto_secretbox_detached(box + crypto_secretbox_MACBYTES, box, box + crypto_secretbox_MACBYTES, length, nonce, key) != 0)
		xsUnknownError("secretbox failed");
}

void xs_pawpost_secretbox_open(xsMachine *the)
{
	xsUnsignedValue offset, length;
	uint8_t *box, *nonce, *key;
	int ok;

	needArgs(the, 5);
	offset = getIndex(the, 1, "offset");
	length = getIndex(the, 2, "length");
	if (length > 0x7FFFFFFF - crypto_secretbox_MACBYTES)
		xsRangeError("length out of range");
	pawpostSodiumInit();
	box = getRange(the, 0, offset, crypto_secretbox_MACBYTES + length, 1);
	nonce = getFixed(the, 3, crypto_secretbox_NONCEBYTES, 0, "nonce");
	key = getFixed(the, 4, crypto_secretbox_KEYBYTES, 0, "key");
	/* verifies the tag first; writes the plaintext only when it matches */
	ok = (crypto_secretbox_open_detached(box + crypto_secretbox_MACBYTES, box + crypto_secretbox_MACBYTES, box, length, nonce, key) == 0);
	xsmcSetBoolean(xsResult, ok);
}

void xs_pawpost_onetimeauth(xsMachine *the)
{
	xsUnsignedValue offset, length;
	uint8_t *out, *message, *key;

	needArgs(the, 5);
	offset = getIndex(the, 2, "offset");
	length = getIndex(the, 3, "length");
	pawpostSodiumInit();
	out = getFixed(the, 0, crypto_onetimeauth_BYTES, 1, "out");
	message = getRange(the, 1, offset, length, 0);
	key = getFixed(the, 4, crypto_onetimeauth_KEYBYTES, 0, "key");
	if (crypto_onetimeauth(out, message, length, key) != 0)
		xsUnknownError("onetimeauth failed");
}

void xs_pawpost_sha512(xsMachine *the)
{
	xsUnsignedValue offset, length;
	uint8_t *out, *message;

	needArgs(the, 4);
	offset = getIndex(the, 2, "offset");
	length = getIndex(the, 3, "length");
	pawpostSodiumInit();
	out = getFixed(the, 0, crypto_hash_sha512_BYTES, 1, "out");
	message = getRange(the, 1, offset, length, 0);
	if (crypto_hash_sha512(out, message, length) != 0)
		xsUnknownError("sha512 failed");
}

void xs_pawpost_sign_verify(xsMachine *the)
{
	xsUnsignedValue offset, length;
	uint8_t *signature, *message, *publicKey;
	int ok;

	needArgs(the, 5);
	offset = getIndex(the, 2, "offset");
	length = getIndex(the, 3, "length");
	pawpostSodiumInit();
	signature = getFixed(the, 0, crypto_sign_BYTES, 0, "signature");
	message = getRange(the, 1, offset, length, 0);
	publicKey = getFixed(the, 4, crypto_sign_PUBLICKEYBYTES, 0, "public key");
	ok = (crypto_sign_verify_detached(signature, message, length, publicKey) == 0);
	xsmcSetBoolean(xsResult, ok);
}
