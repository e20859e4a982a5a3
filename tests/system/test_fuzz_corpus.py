"""The fuzz targets (tests/fuzz) build, and each runs over every input of
its corpus in tests/fuzz/corpus/NAME without a crash, a sanitizer report
or a broken invariant: a regression run of seconds, so every input a
fuzzer once broke a parser with stays fixed (the corpus keeps them, named
found-*). One test per target, and one that the parsers all have one."""
import os
import subprocess
import tempfile
import unittest

from harness import SRC

FUZZ = os.path.join(SRC, "tests", "fuzz")
BIN = os.path.join(SRC, "build", "fuzz", "bin")
TARGETS = sorted(f[:-4] for f in os.listdir(os.path.join(FUZZ, "targets")) if f.endswith(".cpp"))
_built = {}


def build():
    """make fuzz-build, once for the file; its output when it failed."""
    if "result" not in _built:
        p = subprocess.run(["make", "--no-print-directory", "fuzz-build"], cwd=SRC, capture_output=True, text=True,
                           timeout=3600)
        _built["result"] = None if p.returncode == 0 else (p.stdout + p.stderr)[-4000:]
    return _built["result"]


def run_target(name, files, extra=()):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0", UBSAN_OPTIONS="print_stacktrace=1")
    with tempfile.TemporaryDirectory(prefix="postern-fuzz-") as tmp:
        return subprocess.run([os.path.join(BIN, name), f"-artifact_prefix={tmp}/", *extra, *files],
                              capture_output=True, text=True, errors="replace", timeout=600, env=env, cwd=tmp)


class FuzzCorpus(unittest.TestCase):
    def corpus_passes(self, name):
        failure = build()
        self.assertIsNone(failure, f"make fuzz-build failed:\n{failure}")
        corpus = os.path.join(FUZZ, "corpus", name)
        files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus)) if os.path.isdir(corpus) else []
        self.assertTrue(files, f"no seed inputs in tests/fuzz/corpus/{name}")
        p = run_target(name, files)
        self.assertEqual(p.returncode, 0, f"{name} failed on its corpus:\n{p.stderr[-4000:]}")
        self.assertEqual(p.stderr.count("Running: "), len(files), p.stderr[-2000:])

    def test_every_parser_of_untrusted_bytes_has_a_target(self):
        want = {"smtp_data", "address", "header", "imap_message", "imap_parse", "pop3", "spawn_protocol", "envelope",
                "queue_state", "login_request", "assign", "aliases", "dot_qmail", "dns_mx", "smtp_reply",
                "smtpd_session", "imapd_session"}
        self.assertEqual(want - set(TARGETS), set())


for _t in TARGETS:
    setattr(FuzzCorpus, f"test_{_t}_corpus", lambda self, _t=_t: self.corpus_passes(_t))


if __name__ == "__main__":
    unittest.main()
