/*
 * The parts of ESP-IDF's app rollback the SDK's `ota` module lacks, bound in
 * hal/moddable-update.ts with native("xs_pawpost_ota_*"). Needs
 * CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y (docs/SECURITY.md "Firmware updates").
 *
 *   xs_pawpost_ota_capacity()  bytes of the next update partition (0 when none)
 *   xs_pawpost_ota_pending()   true when the running image is ESP_OTA_IMG_PENDING_VERIFY
 *   xs_pawpost_ota_confirm()   esp_ota_mark_app_valid_cancel_rollback()
 *   xs_pawpost_ota_rollback()  esp_ota_mark_app_invalid_rollback_and_reboot() (does not return
 *                              when a previous image exists; throws otherwise)
 *
 * Not built here: there is no ESP-IDF on the development machines (docs/HARDWARE.md).
 */
#include "xsmc.h"
#include "xsHost.h"
#include "esp_ota_ops.h"

void xs_pawpost_ota_capacity(xsMachine *the)
{
	const esp_partition_t *p = esp_ota_get_next_update_partition(NULL);
	xsmcSetInteger(xsResult, p ? (xsIntegerValue)p->size : 0);
}

void xs_pawpost_ota_pending(xsMachine *the)
{
	esp_ota_img_states_t state;
	const esp_partition_t *running = esp_ota_get_running_partition();
	if (ESP_OK != esp_ota_get_state_partition(running, &state)) {
		xsmcSetFalse(xsResult); /* factory app or no otadata: nothing to confirm */
		return;
	}
	xsmcSetBoolean(xsResult, ESP_OTA_IMG_PENDING_VERIFY == state);
}

void xs_pawpost_ota_confirm(xsMachine *the)
{
	if (ESP_OK != esp_ota_mark_app_valid_cancel_rollback())
		xsUnknownError("ota confirm failed");
}

void xs_pawpost_ota_rollback(xsMachine *the)
{
	esp_ota_mark_app_invalid_rollback_and_reboot();
	xsUnknownError("ota rollback: no previous image");
}
