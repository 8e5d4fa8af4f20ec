# devsup — one Makefile. User CFLAGS never drop the warnings; SANITIZE=address,undefined
# builds an instrumented copy into build/sanitize so both can coexist.

CC       ?= cc
CFLAGS   ?= -O2 -g
PREFIX   ?= /usr/local
BUILD    ?= build

ifneq ($(SANITIZE),)
BUILD    := build/sanitize
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
ifeq ($(CI),true)
WERROR   ?= -Werror
endif

WARNINGS := -std=gnu11 -Wall -Wextra -Wshadow -Wvla -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2
ALL_CFLAGS = $(WARNINGS) $(WERROR) $(CFLAGS) $(SANFLAGS) -D_GNU_SOURCE -I. $(PQ_CFLAGS) -MMD -MP
LDLIBS   := -lev -ljansson -lpq
# libedit: the interactive front end's line editing (supervisor/tty.c); the reaper needs none
SUP_LIBS := -ledit
# The reaper links neither libpq nor (through it) libssl and libcrypto, whatever the linker's
# --as-needed default: one runs per project, and every mapped library costs private dirty
# pages. It dlopens libssl only to probe an HTTPS dev server (reaper/tls.c).
REAP_LIBS := -lev -ljansson
PQ_CFLAGS := -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)

COMMON_SRC := $(wildcard common/*.c)
SUP_SRC    := $(wildcard supervisor/*.c)
REAP_SRC   := $(wildcard reaper/*.c)
UNIT_SRC   := $(wildcard tests/unit/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC))
SUP_OBJ    := $(call obj,$(SUP_SRC))
REAP_OBJ   := $(call obj,$(REAP_SRC))
UNIT_OBJ   := $(call obj,$(UNIT_SRC))
# The schema is compiled into devsup (sql/embed.sh).
SQL_SRC    := $(sort $(wildcard sql/*.sql))
GEN_C      := $(BUILD)/gen/migrations.c
GEN_OBJ    := $(BUILD)/obj/gen/migrations.o

TINY   := $(BUILD)/tiny-server
SLOWDNS := $(BUILD)/slow-resolver.so
DEVSUP := $(BUILD)/devsup
REAPER := $(BUILD)/devsup-reaper
UNIT   := $(BUILD)/unit-tests

.PHONY: all deps run test unit types e2e e2e-san e2e-valgrind bench bench-compare fuzz fuzz-build clean install \
	uninstall install-check
all: $(DEVSUP) $(REAPER) $(TINY) $(SLOWDNS)

# a fixture for load tests and benchmarks (tests/fixtures/tiny_server.c)
$(TINY): $(call obj,tests/fixtures/tiny_server.c)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS)

# an LD_PRELOAD slow DNS for the persistence tests (tests/fixtures/slow_resolver.c); never
# instrumented: it is loaded into devsup before the sanitizer runtime
$(SLOWDNS): tests/fixtures/slow_resolver.c
	@mkdir -p $(dir $@)
	$(CC) $(WARNINGS) $(WERROR) $(CFLAGS) -fPIC -shared -o $@ $< $(LDFLAGS) -ldl

$(DEVSUP): $(SUP_OBJ) $(GEN_OBJ) $(COMMON_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS) $(SUP_LIBS)

$(REAPER): $(REAP_OBJ) $(COMMON_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(REAP_LIBS)

# The unit tests link the supervisor's and reaper's modules too, minus their main().
$(UNIT): $(UNIT_OBJ) $(COMMON_OBJ) $(GEN_OBJ) $(filter-out %/main.o,$(SUP_OBJ) $(REAP_OBJ))
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS) $(SUP_LIBS) $(shell pkg-config --libs check)

$(GEN_C): $(SQL_SRC) sql/embed.sh
	@mkdir -p $(dir $@)
	sh sql/embed.sh $(SQL_SRC) > $@.tmp && mv $@.tmp $@

$(GEN_OBJ): $(GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Idempotent: installs only what is missing, and only when we can (root).
deps:
	@sh tests/deps.sh

run: deps all
	$(DEVSUP)

unit: $(UNIT)
	CK_FORK=yes $(UNIT)

e2e: all
	DEVSUP_BIN=$(abspath $(DEVSUP)) node --test --test-concurrency=2 tests/e2e/

e2e-san:
	$(MAKE) SANITIZE=address,undefined all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  DEVSUP_SANITIZED=1 DEVSUP_BIN=$(abspath build/sanitize/devsup) \
	  node --test --test-concurrency=2 tests/e2e/

# The e2e suite with devsup and devsup-reaper under valgrind memcheck (slow: not in make test).
# Two files at a time: most of a file's time under valgrind is waiting (Postgres restarts,
# stop deadlines), and CI must stay under 20 minutes.
e2e-valgrind: all
	DEVSUP_VALGRIND=1 DEVSUP_BIN=$(abspath tests/e2e/valgrind-devsup) \
	  node --test --test-concurrency=2 --test-timeout=600000 tests/e2e/

# make install [PREFIX=/usr/local] [DESTDIR=]: both binaries (devsup finds the reaper beside
# it), the man page, and the schema (also compiled into devsup) for DBAs and deploy steps.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/devsup/sql
	install -m 755 $(DEVSUP) $(REAPER) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 docs/devsup.1 $(DESTDIR)$(PREFIX)/share/man/man1/devsup.1
	install -m 644 $(SQL_SRC) $(DESTDIR)$(PREFIX)/share/devsup/sql/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/devsup $(DESTDIR)$(PREFIX)/bin/devsup-reaper \
	  $(DESTDIR)$(PREFIX)/share/man/man1/devsup.1
	rm -rf $(DESTDIR)$(PREFIX)/share/devsup

# Installs into a temporary DESTDIR and runs the installed devsup (part of make test).
install-check: all
	sh tests/install-check.sh

# The type test of the Node client: tests/types/*.ts compiled with tsc --strict --noEmit. tsc
# (versions pinned in tests/types/package.json) is installed from npm once, into a cache.
TYPES_CACHE := $(or $(DEVSUP_APP_CACHE),$(HOME)/.cache/devsup-e2e)/types-tsc-5.9.3
types:
	@test -x $(TYPES_CACHE)/node_modules/.bin/tsc || { mkdir -p $(TYPES_CACHE) && \
	  cp tests/types/package.json $(TYPES_CACHE)/ && \
	  npm install --prefix $(TYPES_CACHE) --no-audit --no-fund --loglevel=error; }
	$(TYPES_CACHE)/node_modules/.bin/tsc -p tests/types/tsconfig.json \
	  --typeRoots $(TYPES_CACHE)/node_modules/@types

test: deps
	$(MAKE) unit
	$(MAKE) types
	$(MAKE) install-check
	$(MAKE) e2e
	$(MAKE) e2e-san

STORE_BENCH := $(BUILD)/store-bench
$(STORE_BENCH): $(call obj,tests/bench/store_bench.c) $(call obj,supervisor/store.c supervisor/store_conn.c supervisor/store_outbox.c supervisor/store_sql.c supervisor/store_claim.c) $(GEN_OBJ) $(COMMON_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

bench: all $(STORE_BENCH)
	DEVSUP_BIN=$(abspath $(DEVSUP)) node tests/bench/bench.mjs
	DEVSUP_BIN=$(abspath $(DEVSUP)) node tests/bench/load.mjs
	DEVSUP_BIN=$(abspath $(DEVSUP)) node tests/bench/readiness.mjs
	DEVSUP_BIN=$(abspath $(DEVSUP)) node tests/bench/resources.mjs
	DEVSUP_BIN=$(abspath $(DEVSUP)) sh tests/bench/pg-bench.sh $(abspath $(STORE_BENCH))

# devsup against supervisord (Debian's package) and pm2 (npm, into build/bench-peers), on the
# same fixtures, and BENCH_BURST (100) Python servers started at once under each and bare:
# writes docs/benchmarks.md and docs/benchmarks-latency.svg (tests/bench/compare/).
bench-compare: all
	@sh tests/bench/compare/peers.sh
	DEVSUP_BIN=$(abspath $(DEVSUP)) node tests/bench/compare/compare.mjs $(BUILD)/bench-compare/results.json
	node tests/bench/compare/report.mjs $(BUILD)/bench-compare/results.json docs/benchmarks.md \
	  $(BUILD)/bench-compare/latency.dat
	gnuplot -e "data='$(BUILD)/bench-compare/latency.dat'; out='docs/benchmarks-latency.svg'; \
	  runs=$${BENCH_RUNS:-10}" tests/bench/compare/latency.gp

# libFuzzer targets (tests/fuzz/): clang, ASan+UBSan, each run for FUZZ_SECONDS; new inputs go
# to build/fuzz/corpus, crashes to build/fuzz/crashes (make one a regression test).
FUZZ_TARGETS := command linebuf sanitize tunnel_match chan line_id
FUZZ_SECONDS ?= 30
FUZZ_LIB_OBJ = $(COMMON_OBJ) $(GEN_OBJ) $(filter-out %/main.o,$(SUP_OBJ) $(REAP_OBJ))

$(BUILD)/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDFLAGS) $(LDLIBS) $(SUP_LIBS)

fuzz-build: $(addprefix $(BUILD)/fuzz_,$(FUZZ_TARGETS))

fuzz:
	$(MAKE) BUILD=build/fuzz CC=clang \
	  SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/corpus/$$t build/fuzz/crashes; \
	  echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
	  if ! build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	      -artifact_prefix=build/fuzz/crashes/$$t- build/fuzz/corpus/$$t tests/fuzz/seeds/$$t \
	      > build/fuzz/$$t.log 2>&1; then \
	    tail -n 40 build/fuzz/$$t.log; echo "fuzz $$t: FAILED (input in build/fuzz/crashes)"; exit 1; \
	  fi; \
	  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" build/fuzz/$$t.log | tr '\n' ' '; echo; \
	done

clean:
	rm -rf build

# keep generated objects (the fuzz targets' .o would otherwise be deleted as intermediates)
.SECONDARY:

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/obj/*/*/*.d)
