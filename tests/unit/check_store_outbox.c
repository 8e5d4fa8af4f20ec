/* The writer's outbox: order kept, bounded, the oldest waiting record shed (never one in
 * flight), commits and refusals counted. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "supervisor/store_outbox.h"
#include "tests/unit/suites.h"

static outbox_rec_t *rec(int n)
{
	outbox_rec_t *r = xcalloc(1, sizeof(*r));
	char buf[16];
	snprintf(buf, sizeof(buf), "p%d", n);
	r->v[0] = xstrdup(buf);
	r->v[2] = xstrdup("1");
	r->v[3] = xstrdup("idle");
	r->v[4] = xstrdup("starting");
	return r;
}

static const char *at(size_t i)
{
	outbox_rec_t *r = outbox_head();
	while (r && i--)
		r = r->next;
	return r ? r->v[0] : NULL;
}

static json_int_t stat_of(const char *key)
{
	json_t *o = json_object();
	outbox_status(o);
	json_int_t v = json_integer_value(json_object_get(o, key));
	json_decref(o);
	return v;
}

START_TEST(sheds_the_oldest_waiting)
{
	log_init("check", LOG_LEVEL_OFF);
	outbox_init(3);
	for (int i = 0; i < 5; i++)
		outbox_push(rec(i), 0);
	ck_assert_uint_eq(outbox_len(), 3);
	ck_assert_str_eq(at(0), "p2");
	ck_assert_str_eq(at(2), "p4");
	ck_assert_int_eq(stat_of("shed"), 2);
	ck_assert_int_eq(stat_of("queueMax"), 3);
	outbox_free();
}
END_TEST

START_TEST(never_sheds_what_is_in_flight)
{
	log_init("check", LOG_LEVEL_OFF);
	outbox_init(3);
	for (int i = 0; i < 3; i++)
		outbox_push(rec(i), 0);
	outbox_push(rec(3), 2); /* p0 and p1 are on the wire: p2 goes */
	ck_assert_str_eq(at(0), "p0");
	ck_assert_str_eq(at(1), "p1");
	ck_assert_str_eq(at(2), "p3");
	outbox_push(rec(4), 3); /* all three in flight: over the bound rather than lose one */
	ck_assert_uint_eq(outbox_len(), 4);
	outbox_commit(3);
	ck_assert_uint_eq(outbox_len(), 1);
	ck_assert_str_eq(at(0), "p4");
	ck_assert_int_eq(stat_of("written"), 3);
	outbox_drop(0);
	ck_assert_uint_eq(outbox_len(), 0);
	ck_assert_int_eq(stat_of("refused"), 1);
	outbox_free();
}
END_TEST

Suite *store_outbox_suite(void)
{
	Suite *s = suite_create("store_outbox");
	TCase *tc = tcase_create("bound");
	tcase_add_test(tc, sheds_the_oldest_waiting);
	tcase_add_test(tc, never_sheds_what_is_in_flight);
	suite_add_tcase(s, tc);
	return s;
}
