# stallguard — build, run, test, bench, install.
# `make run` and `make test` install the Debian packages they need first.

PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# Debian 12 keeps units in /lib/systemd/system; systemd also reads /usr/local/lib/systemd/system.
UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
VERSION := $(shell cat VERSION)

CC ?= cc
PKGS := libsystemd inih jansson libbpf
# libdw is loaded with dlopen when a capture symbolizes stacks (controller/dwload.h):
# only its headers are needed to build, and it is not linked.
DLOPEN_PKGS := libdw
DLOPEN_CFLAGS := $(shell pkg-config --cflags $(DLOPEN_PKGS) 2>/dev/null)
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
	  -D_GNU_SOURCE -DSG_VERSION='"$(VERSION)"' -fno-strict-aliasing \
	  -Icontroller -Iactions -Ibpf $(DLOPEN_CFLAGS)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lsystemd -linih -ljansson -lbpf) -pthread
# The daemon needs nothing of libm (every page of a linked library it touches stays locked);
# tests and benches do.
TEST_LDLIBS := $(LDLIBS) -lm

B := build
LIB_SRC := $(filter-out controller/main.c,$(wildcard controller/*.c actions/*.c)) \
	   $(filter-out %.bpf.c,$(wildcard bpf/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
PROG_SRC := $(wildcard tests/progs/*.c)
PROG_BIN := $(PROG_SRC:tests/progs/%.c=$(B)/tests/progs/%)
BPF_SKEL := $(patsubst bpf/%.bpf.c,$(B)/bpf/%.skel.h,$(wildcard bpf/*.bpf.c))

.PHONY: all run test vm-test unit integration bench install deps clean
all: stallguard

deps:
	@scripts/install-deps

$(B)/%.o: %.c $(wildcard controller/*.h actions/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# BPF: vmlinux.h from the build host's BTF, objects by clang, skeletons by
# bpftool; bpf/*.c (the loaders) build into libsg.a against the skeletons.
$(B)/bpf/vmlinux.h:
	@mkdir -p $(dir $@)
	@test -r /sys/kernel/btf/vmlinux || { echo "make: the build host's kernel has no BTF" \
		"(/sys/kernel/btf/vmlinux): bpf/ needs it to generate vmlinux.h" >&2; exit 1; }
	bpftool btf dump file /sys/kernel/btf/vmlinux format c >$@.tmp && mv $@.tmp $@

$(B)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(B)/bpf/vmlinux.h
	clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I$(B)/bpf -Ibpf -c -o $@ $<
	llvm-strip -g $@

$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o
	bpftool gen skeleton $< >$@.tmp && mv $@.tmp $@

BPF_LOADER_OBJ := $(filter $(B)/bpf/%,$(LIB_OBJ))
$(BPF_LOADER_OBJ): $(BPF_SKEL) $(wildcard bpf/*.h)
$(BPF_LOADER_OBJ): CFLAGS += -Ibpf -I$(B)/bpf

$(B)/libsg.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

stallguard: $(B)/controller/main.o $(B)/libsg.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(B)/libsg.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -Ibpf -DFIXTURES='"$(CURDIR)/tests/fixtures"' -DPROGS='"$(CURDIR)/$(B)/tests/progs"' \
		-o $@ $< $(B)/libsg.a $(TEST_LDLIBS) -lcmocka

# Programs the tests (and the qemu test bed) run.
$(B)/tests/test_recorder: $(PROG_BIN)
$(B)/tests/progs/%: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -pthread -o $@ $<

$(B)/bench/%: bench/%.c $(B)/libsg.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ibpf -o $@ $< $(B)/libsg.a $(TEST_LDLIBS)

run: deps
	$(MAKE) stallguard
	./stallguard run -c etc/stallguard.ini --dry-run

# Every unit test binary, every integration test, then every scenario of the
# real-kernel test bed (tests/vm); one summary line.
test: deps
	$(MAKE) stallguard $(UNIT_BIN) $(PROG_BIN)
	@tests/run-all $(UNIT_BIN)

# Only the test bed's scenarios; SCENARIO=NAME (or its number) runs one.
vm-test: deps
	$(MAKE) stallguard
	@tests/vm/run $(SCENARIO)

bench:
	@scripts/install-deps bench
	$(MAKE) stallguard $(BENCH_BIN) $(PROG_BIN)
	@bench/run

# The binary, the unit (its ExecStart pointed at SBINDIR), the example
# configuration and hook, the man pages and the bash completion.
install: stallguard
	install -D -m 0755 stallguard $(DESTDIR)$(SBINDIR)/stallguard
	install -D -m 0600 etc/stallguard.ini $(DESTDIR)$(SYSCONFDIR)/stallguard/stallguard.ini
	install -D -m 0755 etc/hooks/lb-drain $(DESTDIR)$(SYSCONFDIR)/stallguard/hooks/lb-drain
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/sbin/stallguard|$(SBINDIR)/stallguard|; s|/etc/stallguard/|$(SYSCONFDIR)/stallguard/|' \
		etc/stallguard.service >$(DESTDIR)$(UNITDIR)/stallguard.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/stallguard.service
	install -D -m 0644 man/stallguard.8 $(DESTDIR)$(MANDIR)/man8/stallguard.8
	install -D -m 0644 man/stallguard.ini.5 $(DESTDIR)$(MANDIR)/man5/stallguard.ini.5
	install -D -m 0644 etc/bash-completion/stallguard $(DESTDIR)$(BASHCOMPDIR)/stallguard

clean:
	rm -rf $(B) stallguard
