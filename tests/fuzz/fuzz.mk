# The fuzz targets (tests/fuzz/README), included by the Makefile:
#
#   make fuzz-build   builds every target in build/fuzz/bin
#   make fuzz         builds them and runs each for FUZZ_SECONDS (60)
#
# clang with libFuzzer, AddressSanitizer and UBSan; the objects live in
# build/fuzz, apart from g++'s. A target is tests/fuzz/targets/NAME.cpp;
# FUZZ_PROG_NAME lists the program sources it drives (a program's own
# parts, never its main.cpp); the library comes from an archive, so a
# target links only the library objects it uses.
FUZZ_CXX := clang++-14
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_FLAGS := -std=c++20 -O1 -g -Wall -Wextra -Werror $(FUZZ_SAN)
FUZZ := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(sort $(patsubst tests/fuzz/targets/%.cpp,%,$(wildcard tests/fuzz/targets/*.cpp)))
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ)/bin/%)
FUZZ_SUPPORT := $(FUZZ)/fuzz/common.o $(FUZZ)/fuzz/fuzz_conf.o

FUZZ_PROG_smtp_data := smtpd/smtp_data
FUZZ_PROG_dns_mx := remote/route remote/dnssec
FUZZ_LIBS_dns_mx := -lunbound
FUZZ_PROG_sts_dane_records := remote/sts_policy remote/dane remote/dnssec
FUZZ_LIBS_sts_dane_records := -lunbound
FUZZ_PROG_tlsrpt_records := tlsrpt/rua tlsrpt/report
FUZZ_LIBS_tlsrpt_records := -lz
FUZZ_PROG_smtp_reply := remote/reply
FUZZ_PROG_imap_relay := imapd-mailbox/relay_text
FUZZ_PROG_authcheck_verdict := authcheck/verdict
FUZZ_PROG_authhttp_request := authhttp/auth_request
# The libraries authcheck parses DNS answers with.
FUZZ_LIBS_auth_records := -lspf2 -lopendmarc
FUZZ_PROG_mailstats_line := mailstats/logline mailstats/tally mailstats/report mailstats/report_text mailstats/report_html
# A whole session: every part of the program but its main.cpp.
fuzz_parts_of = $(patsubst src/%.cpp,%,$(filter-out %/main.cpp,$(wildcard src/$(1)/*.cpp)))
FUZZ_PROG_smtpd_session := $(call fuzz_parts_of,smtpd) fuzz/fake_queue
FUZZ_PROG_imapd_session := $(call fuzz_parts_of,imapd-mailbox) fuzz/exit_wrap
# imapd-mailbox ends its process with _Exit; the target turns that into a
# return to the fuzzer, and makes fsync a no-op (exit_wrap.cpp).
FUZZ_LDFLAGS_imapd_session := -Wl,--wrap=_Exit -Wl,--wrap=fsync
# imapd-mailbox's COMPRESS=DEFLATE links zlib, as in the Makefile.
FUZZ_LIBS_imapd_session := -lz -lunistring
# COMPRESS's Transport lives with the session's parts.
FUZZ_PROG_imap_compress := $(call fuzz_parts_of,imapd-mailbox) fuzz/exit_wrap
FUZZ_LDFLAGS_imap_compress := -Wl,--wrap=_Exit -Wl,--wrap=fsync
FUZZ_LIBS_imap_compress := -lz -lunistring

.PHONY: fuzz fuzz-build

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@./tests/fuzz/run-all --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

$(FUZZ)/lib/%.o: src/lib/%.cpp | deps-stamp
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -Isrc/lib -c $< -o $@

$(FUZZ)/prog/%.o: src/%.cpp | deps-stamp
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -Isrc/lib -c $< -o $@

$(FUZZ)/fuzz/%.o: tests/fuzz/%.cpp | deps-stamp
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -Isrc/lib -Isrc -Itests/fuzz -c $< -o $@

# The library minus what no target reaches (delivery, logins' parent,
# queue_client is fake_queue's), to keep make test's build short.
FUZZ_LIB_SRC := $(filter-out $(addprefix src/lib/,login/login_parent.cpp mail/mailauth_db.cpp mail/mbox.cpp \
  mail/delivery_env.cpp mail/queue_client.cpp),$(LIB_SRC))
$(FUZZ)/libpostern.a: $(patsubst src/lib/%.cpp,$(FUZZ)/lib/%.o,$(FUZZ_LIB_SRC))
	@rm -f $@
	ar rcs $@ $^

# A target's objects beyond its own (a % written in the rule itself would
# be taken for the stem).
fuzz_objs = $(foreach p,$(FUZZ_PROG_$(1)),$(if $(filter fuzz/%,$(p)),$(FUZZ)/$(p).o,$(FUZZ)/prog/$(p).o))
$(FUZZ)/bin/%: $$(call fuzz_objs,$$*) \
               $(FUZZ)/fuzz/targets/%.o $(FUZZ_SUPPORT) $(FUZZ)/libpostern.a
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer $(FUZZ_LDFLAGS_$*) -o $@ $(filter %.o,$^) $(FUZZ)/libpostern.a $(FUZZ_LIBS_$*) $(SSL_LIBS) $(LIBS)
