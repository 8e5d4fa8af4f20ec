/* libFuzzer: parsing and validating a command line (supervisor/command.c). Invariants: a start
 * that validates has a valid projectId, an absolute cwd and a command; one that does not has
 * an error naming a field. */
#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "common/util.h"
#include "supervisor/command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t e;
	json_t *c = json_loadb((const char *)data, size,
			       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (!c || !json_is_object(c)) {
		json_decref(c);
		return 0;
	}
	char err[256] = "";
	json_t *spec = command_validate_start(c, err, sizeof(err));
	if (spec) {
		const char *id = json_string_value(json_object_get(spec, "projectId"));
		const char *cwd = json_string_value(json_object_get(spec, "cwd"));
		assert(id && project_id_valid(id));
		assert(cwd && cwd[0] == '/');
		assert(json_object_get(spec, "command"));
		json_decref(spec);
	} else {
		assert(strncmp(err, "field '", 7) == 0);
	}
	json_decref(c);
	return 0;
}
