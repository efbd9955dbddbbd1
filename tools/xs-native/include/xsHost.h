/*
 * Stand-in for the Moddable SDK's xsHost.h when the C of hal/native is compiled
 * into the XS tier's worker (tools/xs-native/): xsnap has no Moddable host
 * layer. The files that include it (pawpost-random.c) use nothing from it
 * outside `#if ESP32`, which is never set here.
 */
#ifndef PAWPOST_XS_NATIVE_XSHOST_H
#define PAWPOST_XS_NATIVE_XSHOST_H
#endif
