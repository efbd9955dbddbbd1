/*
 * xs_pawpost_restart(): restarts the device. Bound in hal/moddable-restart.ts
 * with native("xs_pawpost_restart"). After a factory reset everything in RAM
 * was built from data that is now wiped, so the toy starts again from scratch.
 *
 * ESP32: esp_restart(). Linux (the SDK's `lin` simulator): the process exits,
 * which is what a restart of a simulated device can be.
 */
#include "xsmc.h"
#include "xsHost.h"

#if ESP32
	#include "esp_system.h"
#else
	#include <stdlib.h>
#endif

void xs_pawpost_restart(xsMachine *the)
{
#if ESP32
	esp_restart();
#else
	exit(0);
#endif
}
