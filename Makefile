# stallguard — build, run, test, bench, install.
# `make run` and `make test` install the Debian packages they need first.

PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
VERSION := $(shell cat VERSION)

CC ?= cc
PKGS := libsystemd inih jansson
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
	  -D_GNU_SOURCE -DSG_VERSION='"$(VERSION)"' -fno-strict-aliasing \
	  -Icontroller -Iactions
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lsystemd -linih -ljansson) -lm

B := build
LIB_SRC := $(filter-out controller/main.c,$(wildcard controller/*.c actions/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(B)/bench/%)

.PHONY: all run test vm-test unit integration bench install deps clean
all: stallguard

deps:
	@scripts/install-deps

$(B)/%.o: %.c $(wildcard controller/*.h actions/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libsg.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

stallguard: $(B)/controller/main.o $(B)/libsg.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(B)/libsg.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -DFIXTURES='"$(CURDIR)/tests/fixtures"' -o $@ $< $(B)/libsg.a $(LDLIBS) -lcmocka

$(B)/bench/%: bench/%.c $(B)/libsg.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libsg.a $(LDLIBS)

run: deps
	$(MAKE) stallguard
	./stallguard run -c etc/stallguard.ini --dry-run

# Every unit test binary, every integration test, then every scenario of the
# real-kernel test bed (tests/vm); one summary line.
test: deps
	$(MAKE) stallguard $(UNIT_BIN)
	@tests/run-all $(UNIT_BIN)

# Only the test bed's scenarios; SCENARIO=NAME (or its number) runs one.
vm-test: deps
	$(MAKE) stallguard
	@tests/vm/run $(SCENARIO)

bench:
	@scripts/install-deps bench
	$(MAKE) stallguard $(BENCH_BIN)
	@bench/run

install: stallguard
	install -D -m 0755 stallguard $(DESTDIR)$(SBINDIR)/stallguard
	install -D -m 0644 etc/stallguard.ini $(DESTDIR)$(SYSCONFDIR)/stallguard/stallguard.ini
	install -D -m 0755 etc/hooks/lb-drain $(DESTDIR)$(SYSCONFDIR)/stallguard/hooks/lb-drain

clean:
	rm -rf $(B) stallguard
