# postern's build. Read README first; INSTALL says what `make setup` does.
#
#   make            build every program for the home in conf-home
#   make test       build, then run the unit and system tests
#   make test-asan  the same under AddressSanitizer and UBSan
#   make setup      (root) install into conf-home, create users and queue
#   make run        a self-contained single-user instance under ./run
#   make stop       stop it
#   make fuzz       build the fuzz targets and run each for FUZZ_SECONDS
#
# CONF_HOME=/path and SINGLE=1 build (and with setup, install) another
# instance; each instance links its own copy of the programs, because the
# home directory is compiled in.

SHELL := /bin/bash
# Both cores (or all): a clean build is a few hundred files.
MAKEFLAGS += -j$(shell nproc)
CONF_HOME ?= $(shell head -n1 conf-home)
SINGLE ?=
SAN ?=
ALIASES ?= /etc/aliases
CXX_CMD := $(shell head -n1 conf-cc)
LD_CMD := $(shell head -n1 conf-ld)
ifneq ($(SAN),)
SANFLAGS := -Wno-error=maybe-uninitialized -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
OBJ := build/obj$(if $(SAN),-asan)
INST := build/inst/$(subst /,_,$(CONF_HOME))$(if $(SINGLE),-single)$(if $(SAN),-asan)
LIBS := -lsodium -lfmt -lcdb -lcrypto -lresolv -lcrypt
# How a program is linked: every delivery starts several programs, and the
# dynamic loader was 37% of the CPU (DESIGN.md, "Performance"). The C++
# runtime, fmt (header-only: Debian ships no libfmt.a), libsodium, tinycdb
# and libcrypt are linked in; only the C library (NSS for getpwnam needs
# it shared), libcrypto, libssl and zlib stay shared, and each program
# records only the ones it uses (--as-needed).
# The sanitizers' runtimes want the shared C++ runtime: SAN=1 links as LIBS.
FMT_FLAGS := -DFMT_HEADER_ONLY
ifeq ($(SAN),)
PROG_LDFLAGS := -static-libstdc++ -static-libgcc -Wl,-O1,--as-needed,--hash-style=gnu
PROG_LIBS := -Wl,-Bstatic -lsodium -lcdb -lcrypt -Wl,-Bdynamic -lcrypto -lresolv
else
PROG_LIBS := $(LIBS)
endif
# Objects are rebuilt when the compile command changes, not only their
# sources (fmt header-only or not must be the same in every object).
FLAGS_STAMP := $(OBJ)/compile-flags
$(shell mkdir -p $(OBJ) && { echo '$(CXX_CMD) $(SANFLAGS) $(FMT_FLAGS)' | cmp -s - $(FLAGS_STAMP) || \
  echo '$(CXX_CMD) $(SANFLAGS) $(FMT_FLAGS)' > $(FLAGS_STAMP); })
# Only the programs that speak TLS link libssl (tlsd(8)): smtpd, pop3d and
# imapd never hold a key nor OpenSSL's server side.
SSL_LIBS := -lssl
LIBS_tlsd := $(SSL_LIBS)
LIBS_remote := $(SSL_LIBS)
# DANE (remote): DNSSEC validation by libunbound.
LIBS_remote += -lunbound
# MTA-STS policies (remote) are fetched over HTTPS by libcurl, loaded
# only when a policy is fetched (remote/curl_library.hpp says why).
# TLS reports (tlsrpt): gzip'd by zlib, posted over HTTPS by libcurl.
LIBS_tlsrpt := -lcurl -lz
# zlib for IMAP's COMPRESS=DEFLATE, in the mailbox stage only.
LIBS_imapd-mailbox := -lz
# libunistring brings UTF-8 mailbox names to NFC (RFC 9051 5.1), likewise.
LIBS_imapd-mailbox += -lunistring
# mailstats reads gzip'd logs.
LIBS_mailstats := -lz
# DKIM signatures by libopendkim (dkimsign(8)); dkimkey makes keys with libcrypto.
LIBS_dkimsign := -lopendkim
# The incoming checks (authcheck): SPF by libspf2, DKIM by libopendkim,
# DMARC by libopendmarc.
LIBS_authcheck := -lspf2 -lopendkim -lopendmarc

PROGRAMS := $(sort $(patsubst src/%/main.cpp,%,$(wildcard src/*/main.cpp)))
# The libraries, in floors (DESIGN.md): base, mail, then imap, login, pop3.
LIB_SRC := $(wildcard src/lib/*/*.cpp)
LIB_OBJ := $(LIB_SRC:src/%.cpp=$(OBJ)/%.o)
UNIT_SRC := $(wildcard tests/unit/*.cpp)
UNIT_OBJ := $(UNIT_SRC:tests/%.cpp=$(OBJ)/%.o)
# A program's own code that the unit tests link, so nothing moves into a
# library only to be testable (never a main.o).
UNIT_PROG_SRC := src/smtpd/smtp_data.cpp
UNIT_PROG_SRC += src/send/plan.cpp src/send/controls.cpp
UNIT_PROG_SRC += src/send/log_lines.cpp
UNIT_PROG_SRC += src/remote/reply.cpp src/remote/tls_policy.cpp src/remote/route.cpp
UNIT_PROG_SRC += src/remote/dnssec.cpp src/remote/dane.cpp src/remote/sts_policy.cpp
UNIT_PROG_SRC += src/tlsrpt/rua.cpp src/tlsrpt/report.cpp
UNIT_PROG_SRC += src/mailstats/logline.cpp src/mailstats/tally.cpp src/mailstats/report.cpp
UNIT_PROG_SRC += src/mailstats/report_text.cpp src/mailstats/report_html.cpp
UNIT_PROG_SRC += src/queued/group_sync.cpp src/queued/overlap.cpp
UNIT_PROG_SRC += src/authcheck/verdict.cpp
UNIT_PROG_SRC += src/authhttp/auth_request.cpp
UNIT_PROG_OBJ := $(UNIT_PROG_SRC:src/%.cpp=$(OBJ)/%.o)
BINS := $(PROGRAMS:%=$(INST)/%)

.PHONY: all deps deps-stamp test test-asan unit system setup run stop clean sendmail-links bench
.SECONDARY:

all: deps-stamp $(BINS)

deps:
	@./tools/deps
deps-stamp:
	@./tools/deps --quiet

# Nothing compiles before the packages it needs are installed.
$(OBJ)/%.o: src/%.cpp $(FLAGS_STAMP) | deps-stamp
	@mkdir -p $(dir $@)
	$(CXX_CMD) $(SANFLAGS) $(FMT_FLAGS) -MMD -MP -Isrc/lib -c $< -o $@

$(OBJ)/unit/%.o: tests/unit/%.cpp $(FLAGS_STAMP) | deps-stamp
	@mkdir -p $(dir $@)
	$(CXX_CMD) $(SANFLAGS) $(FMT_FLAGS) -MMD -MP -Isrc/lib -Isrc -c $< -o $@

$(OBJ)/libpostern.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The compiled-in settings of one instance.
$(INST)/auto_conf.cpp: conf-users Makefile
	@mkdir -p $(dir $@)
	./tools/auto-conf '$(CONF_HOME)' '$(SINGLE)' conf-users > $@.tmp && mv $@.tmp $@

$(INST)/auto_conf.o: $(INST)/auto_conf.cpp
	$(CXX_CMD) $(SANFLAGS) $(FMT_FLAGS) -Isrc/lib -c $< -o $@

.SECONDEXPANSION:
$(INST)/%: $$(addprefix $(OBJ)/,$$(subst .cpp,.o,$$(subst src/,,$$(wildcard src/$$*/*.cpp)))) $(OBJ)/libpostern.a $(INST)/auto_conf.o
	$(LD_CMD) $(SANFLAGS) $(PROG_LDFLAGS) -o $@ $(filter %.o,$^) $(OBJ)/libpostern.a $(LIBS_$*) $(PROG_LIBS)

UNIT_HOME := $(CURDIR)/build/unit-home
$(OBJ)/unit-tests: $(UNIT_OBJ) $(UNIT_PROG_OBJ) $(OBJ)/libpostern.a
	$(MAKE) --no-print-directory CONF_HOME=$(UNIT_HOME) SINGLE=1 SAN=$(SAN) build/inst/$(subst /,_,$(UNIT_HOME))-single$(if $(SAN),-asan)/auto_conf.o
	$(LD_CMD) $(SANFLAGS) -o $@ $(UNIT_OBJ) $(UNIT_PROG_OBJ) build/inst/$(subst /,_,$(UNIT_HOME))-single$(if $(SAN),-asan)/auto_conf.o $(OBJ)/libpostern.a $(SSL_LIBS) -lunbound -lz $(LIBS)

unit: all $(OBJ)/unit-tests

# The power-cut test's FUSE file system (tests/crashfs, test_powercut).
$(OBJ)/crashfs: tests/crashfs/crashfs.cpp tests/crashfs/oplog.cpp tests/crashfs/oplog.hpp | deps-stamp
	@mkdir -p $(dir $@)
	$(CXX_CMD) $$(pkg-config --cflags fuse3) -o $@ tests/crashfs/crashfs.cpp tests/crashfs/oplog.cpp $$(pkg-config --libs fuse3)

test: all $(OBJ)/unit-tests $(OBJ)/crashfs
	@./tests/run --unit $(OBJ)/unit-tests $(if $(SAN),--san)

test-asan:
	@$(MAKE) --no-print-directory SAN=1 test

setup: all
	@./tools/setup '$(CONF_HOME)' '$(INST)' '$(SINGLE)' '$(ALIASES)'

run:
	@$(MAKE) --no-print-directory CONF_HOME=$(CURDIR)/run SINGLE=1 ALIASES=$(CURDIR)/run/aliases setup
	@./tools/run-instance start '$(CURDIR)/run'

stop:
	@./tools/run-instance stop '$(CURDIR)/run'

sendmail-links:
	@./tools/sendmail-links '$(CONF_HOME)'

bench: all
	@./bench/local

# The fuzz targets: make fuzz, make fuzz-build (tests/fuzz/README).
include tests/fuzz/fuzz.mk

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
