/*
 * The XS tier's native host (tools/xs-native/): registers the device's host
 * functions (hal/native/pawpost-crypto.c, pawpost-random.c, opus-codec.c) in
 * an xsnap worker, so the same bundles that run on the device call the same C.
 *
 * On the device, `native("xs_name")` is resolved by the XS compiler (xsc) at
 * build time. In xsnap the bundle is parsed at run time without xsc, so
 * `native("xs_name")` is an ordinary call of the global `native` defined
 * here: it returns a host function bound to the C callback of that name, or
 * throws TypeError for a name that is not in the table (the device build
 * would fail to link it).
 *
 *   native(name) -> function        the host function `name` (a new one per call)
 *   __pawpostNativeCalls() -> number calls of those host functions so far
 *
 * Every host function is wrapped by a trampoline that counts the call, so
 * the bench reports "XS steps plus native calls". The steps are xsnap's
 * meter (its C time is not metered, as on the device).
 *
 * Installed by pawpostBuildAgent(), which the build (tools/xs-native/xs-native-build.ts)
 * calls right after xsnap-worker.c's own xsBuildAgent().
 */
#include <string.h>

#include "xsmc.h"

extern void xs_pawpost_x25519_base(xsMachine *the);
extern void xs_pawpost_x25519(xsMachine *the);
extern void xs_pawpost_box_before(xsMachine *the);
extern void xs_pawpost_secretbox_seal(xsMachine *the);
extern void xs_pawpost_secretbox_open(xsMachine *the);
extern void xs_pawpost_onetimeauth(xsMachine *the);
extern void xs_pawpost_sha512(xsMachine *the);
extern void xs_pawpost_sign_verify(xsMachine *the);
extern void xs_pawpost_random(xsMachine *the);
extern void xs_opus_create(xsMachine *the);
extern void xs_opus_encode(xsMachine *the);
extern void xs_opus_decode(xsMachine *the);
extern void xs_opus_reset(xsMachine *the);
extern void xs_opus_close(xsMachine *the);

void pawpostBuildAgent(xsMachine *machine);

static double gNativeCalls = 0;

#define COUNTED(NAME) \
	static void counted_##NAME(xsMachine *the) \
	{ \
		gNativeCalls += 1; \
		NAME(the); \
	}

COUNTED(xs_pawpost_x25519_base)
COUNTED(xs_pawpost_x25519)
COUNTED(xs_pawpost_box_before)
COUNTED(xs_pawpost_secretbox_seal)
COUNTED(xs_pawpost_secretbox_open)
COUNTED(xs_pawpost_onetimeauth)
COUNTED(xs_pawpost_sha512)
COUNTED(xs_pawpost_sign_verify)
COUNTED(xs_pawpost_random)
COUNTED(xs_opus_create)
COUNTED(xs_opus_encode)
COUNTED(xs_opus_decode)
COUNTED(xs_opus_reset)
COUNTED(xs_opus_close)

typedef struct {
	const char *name;
	xsCallback callback;
	xsIntegerValue length;
} NativeEntry;

#define ENTRY(NAME, LENGTH) { #NAME, counted_##NAME, LENGTH }

static const NativeEntry gNatives[] = {
	ENTRY(xs_pawpost_x25519_base, 2),
	ENTRY(xs_pawpost_x25519, 3),
	ENTRY(xs_pawpost_box_before, 3),
	ENTRY(xs_pawpost_secretbox_seal, 5),
	ENTRY(xs_pawpost_secretbox_open, 5),
	ENTRY(xs_pawpost_onetimeauth, 5),
	ENTRY(xs_pawpost_sha512, 4),
	ENTRY(xs_pawpost_sign_verify, 5),
	ENTRY(xs_pawpost_random, 1),
	ENTRY(xs_opus_create, 3),
	ENTRY(xs_opus_encode, 5),
	ENTRY(xs_opus_decode, 6),
	ENTRY(xs_opus_reset, 1),
	ENTRY(xs_opus_close, 1),
};

static void xs_native_lookup(xsMachine *the)
{
	char name[64];
	size_t i;

	if ((xsmcArgc < 1) || (xsmcTypeOf(xsArg(0)) != xsStringType))
		xsTypeError("native: the name must be a string");
	/* copied: the string may move when XS allocates */
	strncpy(name, xsmcToString(xsArg(0)), sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	for (i = 0; i < sizeof(gNatives) / sizeof(gNatives[0]); i++) {
		if (!strcmp(gNatives[i].name, name)) {
			xsResult = xsNewHostFunction(gNatives[i].callback, gNatives[i].length);
			return;
		}
	}
	xsTypeError("native: no host function %s in the XS tier", name);
}

static void xs_native_calls(xsMachine *the)
{
	xsmcSetNumber(xsResult, gNativeCalls);
}

void pawpostBuildAgent(xsMachine *machine)
{
	xsBeginHost(machine);
	xsmcVars(1);
	xsVar(0) = xsNewHostFunction(xs_native_lookup, 1);
	xsmcDefine(xsGlobal, xsID("native"), xsVar(0), xsDontEnum);
	xsVar(0) = xsNewHostFunction(xs_native_calls, 0);
	xsmcDefine(xsGlobal, xsID("__pawpostNativeCalls"), xsVar(0), xsDontEnum);
	xsEndHost(machine);
}
