"""lspawn never stops reading send's requests because send is slow to
read its reports. send writes requests with blocking writes and reads
reports only between them; an lspawn that blocked on a full report pipe
would stop reading requests, and the two would wait for each other for
ever (found in review: hundreds of deliveries at once, long reports). Here
a test plays send: it writes thousands of requests (each for a message
that is not there, so each is deferred at once with a report) without
reading a single report, then reads them all."""
import os
import subprocess
import threading
import unittest

from harness import Instance, remove_test_users


class LspawnReports(unittest.TestCase):
    def test_requests_are_read_while_reports_wait(self):
        inst = Instance()
        try:
            n = 3000
            # ~100 bytes a request and a report: both pipes (64 KB) fill.
            requests = b"".join(b"nosuchmessage%06d\0sender@example.org\0%d\0user%d@example.org\0\n" % (i, i + 1, i)
                                for i in range(n))
            proc = subprocess.Popen([os.path.join(inst.bin, "lspawn"), "./Maildir/"], cwd=os.path.join(inst.home, "queue"),
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            written = threading.Event()

            def write():
                proc.stdin.write(requests)
                proc.stdin.flush()
                written.set()

            writer = threading.Thread(target=write, daemon=True)
            writer.start()
            all_written = written.wait(60)
            if not all_written:
                proc.kill()
            self.assertTrue(all_written, "lspawn stopped reading requests while its reports were not read")
            reports = []
            buf = b""
            while len(reports) < n:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                reports += lines
            proc.stdin.close()
            self.assertEqual(proc.wait(timeout=60), 0)
            self.assertEqual(len(reports), n)
            delnums = sorted(int(r.split(b"\0")[0]) for r in reports)
            self.assertEqual(delnums, list(range(1, n + 1)), "one report for each request")
            self.assertTrue(all(r.split(b"\0")[1] == b"Z" and b"message file" in r for r in reports), reports[:3])
        finally:
            inst.cleanup()
            remove_test_users()


if __name__ == "__main__":
    unittest.main()
