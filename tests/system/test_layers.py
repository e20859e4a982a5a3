"""The floors of DESIGN.md hold in the source tree: tools/check-layers finds
nothing wrong in src/, and it does find each kind of broken rule when a
scratch tree has one (so a pass here means something)."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import SRC

CHECK = os.path.join(SRC, "tools", "check-layers")


def run_check(tree):
    return subprocess.run([CHECK, tree], capture_output=True, text=True, timeout=60)


class Layers(unittest.TestCase):
    def test_source_tree_keeps_the_floors(self):
        p = run_check(os.path.join(SRC, "src"))
        self.assertEqual(p.returncode, 0, p.stdout)

    def scratch(self, files):
        root = tempfile.mkdtemp(prefix="postern-layers-")
        self.addCleanup(shutil.rmtree, root)
        for path, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write(text)
        return root

    def test_a_lower_floor_including_a_higher_one_is_found(self):
        root = self.scratch({"lib/mail/maildir_list.cpp": '#include "pop3/pop3.hpp"\n',
                             "lib/pop3/pop3.hpp": "\n"})
        p = run_check(root)
        self.assertEqual(p.returncode, 1)
        self.assertIn("lib/mail/maildir_list.cpp (floor 2) includes pop3/pop3.hpp (floor 3)", p.stdout)

    def test_siblings_and_unknown_folders_are_found(self):
        root = self.scratch({"lib/imap/a.cpp": '#include "login/b.hpp"\n', "lib/login/b.hpp": "\n",
                             "lib/c.cpp": "\n", "smtpd/d.cpp": '#include "sendmail/e.hpp"\n'})
        out = run_check(root).stdout
        self.assertIn("lib/imap/a.cpp (floor 3) includes login/b.hpp (floor 3)", out)
        self.assertIn("lib/c.cpp: not in a floor", out)
        self.assertIn("smtpd/d.cpp: includes sendmail/e.hpp, which is in no library floor", out)

    def test_circles_and_long_files_are_found(self):
        root = self.scratch({"lib/base/a.hpp": '#include "base/b.hpp"\n',
                             "lib/base/b.hpp": '#include "base/a.hpp"\n',
                             "lib/base/long.cpp": "//\n" * 700})
        out = run_check(root).stdout
        self.assertIn("circle: lib/base/a.hpp -> lib/base/b.hpp -> lib/base/a.hpp", out)
        self.assertIn("lib/base/long.cpp: 700 lines, more than 600", out)


if __name__ == "__main__":
    unittest.main()
