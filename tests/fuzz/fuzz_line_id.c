/* libFuzzer: the raw-bytes id scanner (supervisor/line_id.c). Invariants: whatever the bytes,
 * the result is NULL, a string or a number; and for a line jansson parses as an object whose
 * id is a string or a number, the scanner finds that same id. */
#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "supervisor/line_id.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *id = line_id_scan((const char *)data, size);
	assert(!id || json_is_string(id) || json_is_number(id));
	json_t *c = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	json_t *want = json_object_get(c, "id");
	if (want && size <= LINE_ID_SCAN_MAX && json_is_string(want) &&
	    strlen(json_string_value(want)) == json_string_length(want))
		assert(id && json_equal(id, want));
	if (want && size <= LINE_ID_SCAN_MAX && json_is_integer(want))
		assert(id && json_equal(id, want));
	json_decref(c);
	json_decref(id);
	return 0;
}
