"""tlsd's certificates, sessions and policy, as a client sees them: SNI
picks NAME.pem, a renewed default.pem is served at the next connection
without a restart, a session resumes on a new connection (a new tlsd
process) through the shared ticket keys, which rotate; TLS 1.1, non-AEAD
ciphers, compression and renegotiation are refused; the control files
narrow the policy; control/tls/clientca.pem asks for client
certificates; without a certificate tlsd refuses TLS and says why."""
import hashlib
import os
import socket
import ssl
import subprocess
import time
import unittest

from harness import Instance, ServerTestCase, TlsServer, conf_user, IS_ROOT, wait_for
from test_tlsd import Client, install_lineprog


def fingerprint(sock):
    return hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()


def tls_client(port, ctx, sni="localhost"):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return ctx.wrap_socket(s, server_hostname=sni)


def refused(port, ctx):
    """True when the handshake fails."""
    try:
        tls_client(port, ctx).close()
        return False
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True


def unverified(**kw):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


class Certificates(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        cls.ca = cls.inst.make_certificate(("localhost",), ca=True)
        cls.inst.make_certificate(("mail.example.org",), ca=True, file="mail.example.org.pem")
        cls.server = TlsServer(cls.inst, install_lineprog(cls.inst), implicit=True)

    def test_sni_picks_the_named_certificate(self):
        c = Client(self.server.port, self.ca, implicit=True, sni="mail.example.org")
        self.assertEqual(c.sock.getpeercert()["subject"], ((("commonName", "mail.example.org"),),))
        self.assertEqual(c.facts()["sni"], "mail.example.org")
        c.close()
        # An upper-case name is the same name; an unknown one gets default.pem.
        c = Client(self.server.port, self.ca, implicit=True, sni="MAIL.Example.ORG")
        self.assertEqual(c.facts()["sni"], "mail.example.org")
        c.close()
        s = tls_client(self.server.port, unverified(), sni="other.example.org")
        self.assertEqual(ssl.DER_cert_to_PEM_cert(s.getpeercert(True)),
                         ssl.DER_cert_to_PEM_cert(tls_client(self.server.port, unverified()).getpeercert(True)))
        s.close()

    def test_renewed_certificate_is_used_without_restart(self):
        before = tls_client(self.server.port, ssl.create_default_context(cafile=self.ca))
        old = fingerprint(before)
        self.inst.make_certificate(("localhost",), ca=True)
        after = tls_client(self.server.port, ssl.create_default_context(cafile=self.ca))
        self.assertNotEqual(fingerprint(after), old)
        # The connection made before goes on with its certificate.
        before.sendall(b"ECHO still here\r\n")
        self.assertIn(b"still here", before.recv(4096) + before.recv(4096))
        before.close()
        after.close()

    def test_client_certificates_when_clientca_exists(self):
        tmp = self.inst.tmp
        key, crt, csr = (os.path.join(tmp, n) for n in ("client.key", "client.pem", "client.csr"))
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", key, "-out", csr, "-subj", "/CN=jo client/O=Example"], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", os.path.join(tmp, "ca.key"),
                        "-CAcreateserial", "-days", "2", "-out", crt], check=True, capture_output=True)
        # Without clientca.pem nobody is asked.
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.load_cert_chain(crt, key)
        c = Client(self.server.port, self.ca, implicit=True)
        c.wrap = None
        self.assertNotIn("peer_subject", c.facts())
        c.close()
        clientca = os.path.join(self.inst.home, "control", "tls", "clientca.pem")
        with open(self.ca) as src, open(clientca, "w") as dst:
            dst.write(src.read())
        if IS_ROOT and self.inst.multi:
            import pwd
            os.chown(clientca, pwd.getpwnam(conf_user("tls")).pw_uid, -1)
        try:
            s = tls_client(self.server.port, ctx)
            s.recv(4096)
            s.sendall(b"FACTS\r\n")
            facts = dict(kv.split("=", 1) for kv in s.recv(4096).decode().strip()[5:].split("|") if kv)
            self.assertIn("CN=jo client", facts["peer_subject"])
            self.assertEqual(facts["peer_issuer"], "CN=postern test CA")
            self.assertEqual(facts["peer_verified"], "yes")
            with open(crt) as f:
                der = ssl.PEM_cert_to_DER_cert(f.read())
            self.assertEqual(facts["peer_fingerprint"], "sha256:" + hashlib.sha256(der).hexdigest())
            s.close()
            # A certificate from elsewhere: the handshake goes on, unverified.
            self_key, self_crt = os.path.join(tmp, "self.key"), os.path.join(tmp, "self.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", self_key, "-out", self_crt, "-subj", "/CN=stranger", "-days", "2"],
                           check=True, capture_output=True)
            ctx2 = ssl.create_default_context(cafile=self.ca)
            ctx2.load_cert_chain(self_crt, self_key)
            s = tls_client(self.server.port, ctx2)
            s.recv(4096)
            s.sendall(b"FACTS\r\n")
            reply = s.recv(4096).decode()
            self.assertIn("peer_subject=CN=stranger", reply)
            self.assertIn("peer_verified=no", reply)
            s.close()
        finally:
            os.unlink(clientca)


class Sessions(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        cls.ca = cls.inst.make_certificate()
        cls.server = TlsServer(cls.inst, install_lineprog(cls.inst), implicit=True)
        cls.keys = os.path.join(cls.inst.home, "tls", "ticketkeys")

    def session_of(self, ctx, session=None):
        c = Client(self.server.port, self.ca, implicit=True)
        c.sock.close()
        s = tls_client(self.server.port, ctx) if session is None else None
        if session is not None:
            raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
            s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
        s.recv(4096)  # the greeting; a TLS 1.3 ticket comes with it
        s.sendall(b"FACTS\r\n")
        facts = s.recv(4096).decode()
        reused, sess = s.session_reused, s.session
        s.close()
        return reused, sess, facts

    def test_resumption_across_connections(self):
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            ctx = ssl.create_default_context(cafile=self.ca)
            ctx.maximum_version = version
            reused, sess, facts = self.session_of(ctx)
            self.assertFalse(reused)
            self.assertIn("resumed=no", facts)
            reused, _, facts = self.session_of(ctx, sess)
            self.assertTrue(reused, version)
            self.assertIn("resumed=yes", facts)
        st = os.stat(self.keys)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        if IS_ROOT and self.inst.multi:
            import pwd
            self.assertEqual(st.st_uid, pwd.getpwnam(conf_user("tls")).pw_uid)

    def age_keys(self, hours):
        with open(self.keys) as f:
            lines = f.read().splitlines()
        old = int(time.time()) - hours * 3600
        with open(self.keys, "w") as f:
            f.write("".join(f"{old} {l.split()[1]}\n" for l in lines))
        return len(lines)

    def test_keys_rotate_and_the_previous_key_still_resumes(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        _, first, _ = self.session_of(ctx)
        self.age_keys(13)
        reused, second, _ = self.session_of(ctx, first)
        self.assertTrue(reused, "a ticket of the previous key")
        with open(self.keys) as f:
            self.assertEqual(len(f.read().splitlines()), 2)
        # Two rotations later the first key is gone: a full handshake.
        self.age_keys(13)
        reused, _, _ = self.session_of(ctx, first)
        self.assertFalse(reused)
        with open(self.keys) as f:
            self.assertEqual(len(f.read().splitlines()), 2)


class Policy(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        cls.ca = cls.inst.make_certificate()
        cls.server = TlsServer(cls.inst, install_lineprog(cls.inst), implicit=True)

    def tearDown(self):
        for name in ("tlsprotocols", "tlsciphers", "tlsciphersuites"):
            path = os.path.join(self.inst.home, "control", name)
            if os.path.exists(path):
                os.unlink(path)

    def test_old_protocols_and_weak_ciphers_are_refused(self):
        failed = self.server.log().count("handshake failed")
        self.assertTrue(refused(self.server.port, unverified(minimum_version=ssl.TLSVersion.TLSv1,
                                                             maximum_version=ssl.TLSVersion.TLSv1_1)))
        weak = unverified(maximum_version=ssl.TLSVersion.TLSv1_2)
        weak.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:AES128-SHA")
        self.assertTrue(refused(self.server.port, weak))
        wait_for(lambda: self.server.log().count("handshake failed") >= failed + 2, 10, "two failed handshakes logged")
        self.assertIn("unsupported protocol", self.server.log())
        self.assertIn("no shared cipher", self.server.log())
        good = unverified(maximum_version=ssl.TLSVersion.TLSv1_2)
        good.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
        s = tls_client(self.server.port, good)
        self.assertEqual((s.version(), s.cipher()[0]), ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"))
        self.assertIsNone(s.compression())
        s.close()

    def test_renegotiation_is_refused(self):
        script = "sleep 2; echo 'ECHO before'; sleep 1; echo R; sleep 2; echo 'ECHO after'; sleep 1"
        out = subprocess.run(["sh", "-c", f"({script}) | openssl s_client -connect 127.0.0.1:{self.server.port} "
                              f"-tls1_2 -CAfile {self.ca} -servername localhost"],
                             capture_output=True, text=True, timeout=60)
        self.assertIn("+ before", out.stdout)
        self.assertIn("RENEGOTIATING", out.stdout + out.stderr)
        self.assertIn("no renegotiation", out.stdout + out.stderr)
        self.assertNotIn("+ after", out.stdout)

    def test_control_files_narrow_the_policy(self):
        self.inst.control("tlsprotocols", "TLSv1.3")
        self.assertTrue(refused(self.server.port, unverified(maximum_version=ssl.TLSVersion.TLSv1_2)))
        self.inst.control("tlsprotocols", "TLSv1.2 TLSv1.3\nSSLv3")  # SSLv3: logged and ignored
        self.inst.control("tlsciphers", "ECDHE-ECDSA-CHACHA20-POLY1305")
        s = tls_client(self.server.port, unverified(maximum_version=ssl.TLSVersion.TLSv1_2))
        self.assertEqual(s.cipher()[0], "ECDHE-ECDSA-CHACHA20-POLY1305")
        s.close()
        self.inst.control("tlsciphersuites", "TLS_CHACHA20_POLY1305_SHA256")
        s = tls_client(self.server.port, unverified())
        self.assertEqual(s.cipher()[0], "TLS_CHACHA20_POLY1305_SHA256")
        s.close()
        wait_for(lambda: "tlsprotocols: ignoring SSLv3" in self.server.log(), 10, "the ignored word logged")


class NoCertificate(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        prog = install_lineprog(cls.inst)
        cls.server = TlsServer(cls.inst, prog)
        cls.implicit = TlsServer(cls.inst, prog, implicit=True)

    @classmethod
    def tearDownClass(cls):
        cls.implicit.stop()
        super().tearDownClass()

    def test_no_certificate_no_tls(self):
        c = Client(self.server.port)
        self.assertEqual(c.greeting, "+ hello mode=starttls ready= ctlfd=4")
        self.assertEqual(c.cmd("STARTTLS"), "+ go ahead")
        self.assertIsNone(c.line())
        c.close()
        wait_for(lambda: "fail no certificate" in self.server.log(), 10, "the program told why")
        self.assertIn("no usable certificate", self.server.log())
        self.assertTrue(refused(self.implicit.port, unverified()))


if __name__ == "__main__":
    unittest.main()
