/*
 * xs_pawpost_random(view): fills every byte of `view` (a Uint8Array,
 * ArrayBuffer or DataView; writable, any size) with random bytes from the
 * platform's cryptographic source. Bound in hal/moddable-random.ts with
 * native("xs_pawpost_random").
 *
 * ESP32: esp_fill_random(), the hardware RNG. It is a true RNG only while the
 * RF subsystem (Wi-Fi or Bluetooth) is enabled, or between
 * bootloader_random_enable()/disable() (which cannot be used together with
 * the I2S/ADC peripherals the mic uses). PawPost therefore draws key material
 * only after BLE or Wi-Fi has started (see docs/HARDWARE.md "Randomness").
 *
 * Linux (Moddable `lin` simulator): getrandom(2), retried on EINTR and short
 * reads. A failure throws, which the adapter turns into PortError('IO').
 *
 * Why not the SDK's own modules: `crypt`'s `rng` (modules/crypt/etc/rng.c) is
 * RC4 seeded from c_rand(), and Math.random() is not cryptographic.
 */
#include "xsmc.h"
#include "xsHost.h"

#if ESP32
	#include "esp_random.h"
#else
	#include <errno.h>
	#include <sys/random.h>
#endif

void xs_pawpost_random(xsMachine *the)
{
	void *data;
	xsUnsignedValue size;

	if (xsmcArgc < 1)
		xsUnknownError("no buffer");
	xsmcGetBufferWritable(xsArg(0), &data, &size);

#if ESP32
	esp_fill_random(data, size);
#else
	{
		uint8_t *p = data;
		size_t left = size;
		while (left) {
			ssize_t got = getrandom(p, left, 0);
			if (got < 0) {
				if (EINTR == errno)
					continue;
				xsUnknownError("getrandom failed");
			}
			p += got;
			left -= (size_t)got;
		}
	}
#endif
}
