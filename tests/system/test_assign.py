"""users/assign and newu: virtual users and wildcard prefixes given to one
Unix account, longest prefix winning, a bad file leaving the old database
in place, and whole domains through control/virtualdomains."""
import os
import signal
import unittest

from harness import Instance, User, maildir_files, read_message, remove_test_users, wait_for


def subjects(maildir):
    return [read_message(p)["Subject"] for p in maildir_files(maildir)]


class Assign(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.sender = inst.add_user("sender")
        cls.owner = owner = inst.add_user("vowner")  # the Unix account behind the virtual users
        cls.vd = inst.add_user("vd")                 # a whole virtual domain's account

        def home(name):
            path = os.path.join(inst.tmp, "virtual", name)
            os.makedirs(path)
            os.chmod(os.path.dirname(path), 0o755)
            os.chown(path, owner.uid, owner.gid)
            os.chmod(path, 0o755)
            u = User(owner.name, owner.uid, owner.gid, path)
            u.make_maildir()
            return u
        cls.virt = home("virt")    # =virt
        cls.shop = home("shop")    # +shop-
        cls.vip = home("vip")      # +shop-vip-, longer than +shop-
        cls.shop.make_maildir("orders")
        cls.shop.write(".qmail-orders", "./orders/\n")
        cls.vip.write(".qmail-default", "./Maildir/\n")
        cls.assign = os.path.join(inst.home, "users", "assign")
        o = owner
        cls.assign_text = (
            f"=virt:{o.name}:{o.uid}:{o.gid}:{cls.virt.home}:::\n"
            f"+shop-:{o.name}:{o.uid}:{o.gid}:{cls.shop.home}:-::\n"
            f"+shop-vip-:{o.name}:{o.uid}:{o.gid}:{cls.vip.home}:-::\n"
            ".\n")
        with open(cls.assign, "w") as f:
            f.write(cls.assign_text)
        cls.newu = inst.run("newu", [])
        cls.vd.make_maildir("xdir")
        cls.vd.write(".qmail-x", "./xdir/\n")
        cls.vd.write(".qmail-default", "./Maildir/\n")
        inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def send(self, to, subject):
        p = self.inst.inject(["-f", self.sender.address, to], f"Subject: {subject}\n\nbody\n")
        self.assertEqual(p.returncode, 0, p.stderr)

    def wait_subject(self, maildir, subject):
        wait_for(lambda: subject in subjects(maildir), 20,
                 f"{subject!r} in {maildir}\nlog:\n" + self.inst.log()[-3000:])

    def test_newu_compiled(self):
        self.assertEqual(self.newu.returncode, 0, self.newu.stderr)
        self.assertTrue(os.path.exists(self.assign + ".cdb"))

    def test_exact_virtual_user(self):
        inst = self.inst
        self.send(f"virt@{inst.me}", "to virt")
        self.wait_subject(self.virt.maildir, "to virt")
        inst.wait_queue_empty()
        path = [p for p in maildir_files(self.virt.maildir) if read_message(p)["Subject"] == "to virt"][0]
        self.assertEqual(os.stat(path).st_uid, self.owner.uid, "delivered as the assigned uid")
        self.assertEqual(read_message(path)["Delivered-To"], f"virt@{inst.me}")
        self.assertEqual(maildir_files(self.owner.maildir), [], "not the account's own home")

    def test_wildcard_extension_file_and_default(self):
        inst, shop = self.inst, self.shop
        self.send(f"shop-orders@{inst.me}", "an order")
        self.wait_subject(os.path.join(shop.home, "orders"), "an order")
        # No .qmail-default in shop's home: shop-anything else bounces...
        self.send(f"shop-misc@{inst.me}", "misc without default")
        wait_for(lambda: any(f"shop-misc@{inst.me}".encode() in open(p, "rb").read()
                             for p in maildir_files(self.sender.maildir)), 20,
                 "the bounce for shop-misc\n" + inst.log()[-2000:])
        inst.wait_queue_empty()
        # ...until it has one.
        shop.write(".qmail-default", "./Maildir/\n")
        try:
            self.send(f"SHOP-Misc@{inst.me}", "misc with default")
            self.wait_subject(shop.maildir, "misc with default")
            inst.wait_queue_empty()
        finally:
            os.unlink(os.path.join(shop.home, ".qmail-default"))
        self.assertNotIn("an order", subjects(shop.maildir))

    def test_longest_prefix_wins(self):
        inst = self.inst
        self.send(f"shop-vip-gold@{inst.me}", "for a vip")
        self.wait_subject(self.vip.maildir, "for a vip")
        inst.wait_queue_empty()
        self.assertNotIn("for a vip", subjects(self.shop.maildir))

    def test_virtualdomain_to_one_account(self):
        inst, vd = self.inst, self.vd
        self.assertNotIn("vdom.example", open(os.path.join(inst.home, "control", "locals")).read())
        inst.control("virtualdomains", f"vdom.example:{vd.name}\nvshop.example:shop\n")
        reread = inst.log().count("reread the control files")
        os.kill(inst.proc.pid, signal.SIGHUP)
        wait_for(lambda: inst.log().count("reread the control files") > reread, 10, "SIGHUP")
        self.send("x@vdom.example", "x at vdom")
        self.send("Someone@VDOM.example", "someone at vdom")
        self.send("orders@vshop.example", "order at vshop")
        self.wait_subject(os.path.join(vd.home, "xdir"), "x at vdom")
        self.wait_subject(vd.maildir, "someone at vdom")
        self.wait_subject(os.path.join(self.shop.home, "orders"), "order at vshop")
        inst.wait_queue_empty()
        self.assertNotIn("x at vdom", subjects(vd.maildir))
        msg = read_message([p for p in maildir_files(vd.maildir) if read_message(p)["Subject"] == "someone at vdom"][0])
        # The virtual domain's prefix in front, the local part as written (qmail's rule).
        self.assertEqual(msg["Delivered-To"], f"{vd.name}-Someone@vdom.example")

    def test_z_bad_assign_is_reported_and_the_old_database_kept(self):
        inst, o = self.inst, self.owner
        with open(self.assign + ".cdb", "rb") as f:
            old_db = f.read()
        bad = (f"=virt:{o.name}:{o.uid}:{o.gid}:{self.shop.home}:::\n"   # would move virt to shop's home
               f"=broken:{o.name}:{o.uid}:{o.gid}\n"                      # too few fields
               f"+ok-:{o.name}:{o.uid}:{o.gid}:{self.shop.home}:-::\n"
               f"=relhome:{o.name}:{o.uid}:{o.gid}:relative/home:::\n"    # home not absolute
               ".\n")
        try:
            with open(self.assign, "w") as f:
                f.write(bad)
            p = inst.run("newu", [])
            err = p.stderr.decode()
            self.assertEqual(p.returncode, 100, err)
            self.assertIn("line 2:", err)
            self.assertIn("line 4:", err)
            self.assertNotIn("line 1:", err)
            self.assertNotIn("line 3:", err)
            with open(self.assign + ".cdb", "rb") as f:
                self.assertEqual(f.read(), old_db, "the old assign.cdb is left in place")
            self.send(f"virt@{inst.me}", "virt after a bad newu")
            self.wait_subject(self.virt.maildir, "virt after a bad newu")
            inst.wait_queue_empty()
            self.assertNotIn("virt after a bad newu", subjects(self.shop.maildir))
        finally:
            with open(self.assign, "w") as f:
                f.write(self.assign_text)
            self.assertEqual(inst.run("newu", []).returncode, 0)


if __name__ == "__main__":
    unittest.main()
