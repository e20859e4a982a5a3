#!/usr/bin/env python3
"""Runs one system test file with unittest, printing PASS/FAIL per test,
and writes the counts as JSON for tests/run."""
import importlib.util
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


class Result(unittest.TextTestResult):
    passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        Result.passed += 1
        print(f"PASS {test.id()}", flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        print(f"FAIL {test.id()}\n{self._exc_info_to_string(err, test)}", flush=True)

    def addError(self, test, err):
        super().addError(test, err)
        print(f"FAIL {test.id()} (error)\n{self._exc_info_to_string(err, test)}", flush=True)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:  # counted in failures or errors; the test itself then reports nothing
            print(f"FAIL {subtest.id()}\n{self._exc_info_to_string(err, test)}", flush=True)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        print(f"SKIP {test.id()}: {reason}", flush=True)


def main():
    name, result_file = sys.argv[1], sys.argv[2]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    spec = importlib.util.spec_from_file_location(name[:-3], path)
    module = importlib.util.module_from_spec(spec)
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    try:
        spec.loader.exec_module(module)
        suite = unittest.defaultTestLoader.loadTestsFromModule(module)
        with open(os.devnull, "w") as devnull:
            runner = unittest.TextTestRunner(stream=devnull, resultclass=Result, verbosity=0)
            res = runner.run(suite)
        bad = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
        counts = {"passed": Result.passed, "failed": bad, "skipped": len(res.skipped)}
    except Exception as e:  # an import error fails the file, it is not skipped
        print(f"FAIL {name}: {e!r}", flush=True)
        counts["failed"] += 1
    with open(result_file, "w") as f:
        json.dump(counts, f)


if __name__ == "__main__":
    main()
