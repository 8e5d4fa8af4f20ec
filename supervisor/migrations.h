#ifndef DEVSUP_MIGRATIONS_H
#define DEVSUP_MIGRATIONS_H

#include <stddef.h>

/* The schema files of sql/, embedded at build time (sql/embed.sh), in version order. */
typedef struct {
	int version;
	const char *name;
	const char *sql;
} migration_t;

extern const migration_t migrations[];
extern const size_t migrations_count;

#endif
