/* ring: the last `cap` lines of a project's output. */
#include <stdio.h>
#include <string.h>

#include "common/ring.h"
#include "tests/unit/suites.h"

static void push_str(ring_t *r, ring_stream_t stream, const char *s, uint64_t at)
{
	ring_push(r, stream, s, strlen(s), at);
}

START_TEST(test_keeps_lines_in_order)
{
	ring_t r;
	ring_init(&r, 4);
	ck_assert_uint_eq(r.count, 0);
	ck_assert_ptr_null(ring_at(&r, 0));
	push_str(&r, RING_STDOUT, "one", 1);
	push_str(&r, RING_STDERR, "two", 2);
	push_str(&r, RING_STDOUT, "three", 3);
	ck_assert_uint_eq(r.count, 3);
	ck_assert_str_eq(ring_at(&r, 0)->text, "one");
	ck_assert_str_eq(ring_at(&r, 1)->text, "two");
	ck_assert_str_eq(ring_at(&r, 2)->text, "three");
	ck_assert_int_eq(ring_at(&r, 1)->stream, RING_STDERR);
	ck_assert_uint_eq(ring_at(&r, 2)->at_ms, 3);
	ck_assert_ptr_null(ring_at(&r, 3));
	ring_free(&r);
}
END_TEST

START_TEST(test_oldest_dropped_first)
{
	char buf[32];
	ring_t r;
	ring_init(&r, 3);
	for (int i = 1; i <= 10; i++) {
		snprintf(buf, sizeof(buf), "line %d", i);
		push_str(&r, i % 2 ? RING_STDOUT : RING_STDERR, buf, (uint64_t)i * 1000);
		ck_assert_uint_eq(r.count, i < 3 ? (size_t)i : 3);
		/* the newest is always last */
		ck_assert_str_eq(ring_at(&r, r.count - 1)->text, buf);
	}
	ck_assert_str_eq(ring_at(&r, 0)->text, "line 8");
	ck_assert_str_eq(ring_at(&r, 1)->text, "line 9");
	ck_assert_str_eq(ring_at(&r, 2)->text, "line 10");
	ck_assert_int_eq(ring_at(&r, 0)->stream, RING_STDERR);
	ck_assert_int_eq(ring_at(&r, 1)->stream, RING_STDOUT);
	ck_assert_uint_eq(ring_at(&r, 0)->at_ms, 8000);
	ck_assert_uint_eq(ring_at(&r, 2)->at_ms, 10000);
	ck_assert_ptr_null(ring_at(&r, 3));
	ring_free(&r);
}
END_TEST

START_TEST(test_total_counts_all_pushes)
{
	ring_t r;
	ring_init(&r, 2);
	ck_assert_uint_eq(r.total, 0);
	for (int i = 0; i < 7; i++)
		push_str(&r, RING_STDOUT, "x", 0);
	ck_assert_uint_eq(r.total, 7);
	ck_assert_uint_eq(r.count, 2);
	ring_free(&r);
}
END_TEST

START_TEST(test_text_is_a_copy)
{
	char src[] = "mutable\0tail";
	ring_t r;
	ring_init(&r, 2);
	ring_push(&r, RING_STDOUT, src, 4, 0); /* len bytes only, NUL-terminated */
	memcpy(src, "XXXX", 4);
	ck_assert_str_eq(ring_at(&r, 0)->text, "muta");
	ring_push(&r, RING_STDOUT, "", 0, 0);
	ck_assert_str_eq(ring_at(&r, 1)->text, "");
	ring_free(&r);
}
END_TEST

START_TEST(test_cap_one)
{
	ring_t r;
	ring_init(&r, 1);
	push_str(&r, RING_STDOUT, "a", 0);
	push_str(&r, RING_STDOUT, "b", 0);
	ck_assert_uint_eq(r.count, 1);
	ck_assert_str_eq(ring_at(&r, 0)->text, "b");
	ring_free(&r);
}
END_TEST

/* Slots are allocated as lines come; order and the cap hold across each growth and after. */
START_TEST(test_grows_to_cap)
{
	char buf[32];
	ring_t r;
	ring_init(&r, 500);
	ck_assert_ptr_null(r.lines); /* nothing allocated before the first line */
	for (int i = 0; i < 1234; i++) {
		snprintf(buf, sizeof(buf), "line %d", i);
		push_str(&r, RING_STDOUT, buf, (uint64_t)i);
		ck_assert_uint_le(r.alloc, 500);
		ck_assert_uint_eq(r.count, i < 500 ? (size_t)i + 1 : 500);
		if (i == 20 || i == 499 || i == 1233) {
			int first = i < 500 ? 0 : i - 499;
			for (size_t k = 0; k < r.count; k++) {
				snprintf(buf, sizeof(buf), "line %d", first + (int)k);
				ck_assert_str_eq(ring_at(&r, k)->text, buf);
			}
		}
	}
	ck_assert_uint_eq(r.alloc, 500);
	ring_free(&r);
}
END_TEST

START_TEST(test_free_partial_ring)
{
	ring_t r;
	ring_init(&r, 8);
	push_str(&r, RING_STDOUT, "a", 0);
	push_str(&r, RING_STDERR, "b", 0);
	ring_free(&r);
	ck_assert_uint_eq(r.count, 0);
	ck_assert_ptr_null(ring_at(&r, 0));

	/* a ring that wrapped, freed part-way through its slots */
	ring_init(&r, 3);
	for (int i = 0; i < 5; i++)
		push_str(&r, RING_STDOUT, "w", 0);
	ring_free(&r);
	ck_assert_uint_eq(r.count, 0);

	ring_init(&r, 3); /* empty */
	ring_free(&r);
}
END_TEST

START_TEST(test_stream_names)
{
	ck_assert_str_eq(ring_stream_name(RING_STDOUT), "stdout");
	ck_assert_str_eq(ring_stream_name(RING_STDERR), "stderr");
}
END_TEST

Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("order");
	tcase_add_test(tc, test_keeps_lines_in_order);
	tcase_add_test(tc, test_oldest_dropped_first);
	tcase_add_test(tc, test_total_counts_all_pushes);
	tcase_add_test(tc, test_text_is_a_copy);
	tcase_add_test(tc, test_cap_one);
	tcase_add_test(tc, test_stream_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("free");
	tcase_add_test(tc, test_free_partial_ring);
	tcase_add_test(tc, test_grows_to_cap);
	suite_add_tcase(s, tc);
	return s;
}
