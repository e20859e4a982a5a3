"""crashstate: what a disk may hold after a power cut, rebuilt from crashfs's
log (tests/crashfs/README has the format and the model).

Trusts the log and the snapshot it is given (both written by the test);
returns crash states: which logged operations a state keeps (every durable
one, plus an allowed choice of the pending ones), written out as a real
directory tree with owners, modes, hard links and fifos.

The model, in short (the README says why): a file's data, size, mode and
owner are durable after fsync of that file; a directory entry (create,
mknod, mkdir, symlink, link, unlink, rmdir, rename) after fsync of its
directory, a rename across directories after fsync of both. What is not
durable may be lost: each directory keeps a prefix of its pending entry
changes (a journal keeps them in order), a rename across directories is
atomic (in both prefixes or in neither), each file keeps a prefix of its
pending data changes and the last write kept may be torn."""
import hashlib
import os
import random
import stat
from urllib.parse import unquote_to_bytes

ENTRY = {"create", "mknod", "mkdir", "symlink", "link", "unlink", "rmdir", "rename"}
DATA = {"write", "trunc", "chmod", "chown"}
SYNC = {"fsync", "fsyncdir", "ignored-fsync", "ignored-fsyncdir"}


def dec(field):
    return b"" if field == "%" else unquote_to_bytes(field)


class Obj:
    """One inode: what it starts as (from the snapshot or its creating op)."""

    def __init__(self, kind, mode, uid, gid, content=b"", target=b"", rdev=0):
        self.kind, self.mode, self.uid, self.gid = kind, mode, uid, gid
        self.content, self.target, self.rdev = content, target, rdev


class Op:
    def __init__(self, n, kind, line):
        self.n, self.kind, self.line = n, kind, line
        self.obj = None       # the inode's object
        self.dirs = ()        # the directories whose fsync makes an entry op durable
        self.path = self.path2 = b""
        self.off = self.size = 0
        self.data = b""
        self.mode = self.uid = self.gid = 0


class Snapshot:
    """The backing directory as it was before the mount: its tree, inode
    numbers and contents (small: a fresh queue and a Maildir)."""

    def __init__(self, root):
        self.entries = {}  # relative path (bytes) -> inode number
        self.objs = {}     # inode number -> Obj
        broot = os.fsencode(root)
        self._add(broot, b"")
        for dirpath, dirnames, filenames in os.walk(broot):
            for name in dirnames + filenames:
                self._add(broot, os.path.relpath(os.path.join(dirpath, name), broot))

    def _add(self, broot, rel):
        full = os.path.join(broot, rel) if rel else broot
        st = os.lstat(full)
        self.entries[rel] = st.st_ino
        if st.st_ino in self.objs:
            return
        mode = st.st_mode
        content, target = b"", b""
        if stat.S_ISREG(mode):
            with open(full, "rb") as f:
                content = f.read()
            kind = "file"
        elif stat.S_ISDIR(mode):
            kind = "dir"
        elif stat.S_ISLNK(mode):
            kind, target = "symlink", os.readlink(full)
        else:
            kind = "node"
        self.objs[st.st_ino] = Obj(kind, mode, st.st_uid, st.st_gid, content, target, st.st_rdev)


class Log:
    """crashfs's log read back, each op tied to the object it changes."""

    def __init__(self, path, snapshot):
        self.snapshot = snapshot
        self.objs = {}
        by_ino = {}
        for ino, o in snapshot.objs.items():
            self.objs[("s", ino)] = o
            by_ino[ino] = ("s", ino)
        self.ops = [None]  # ops[n] is operation n
        with open(path, "rb") as f:
            for raw in f:
                if not raw.endswith(b"\n"):
                    break  # a line still being written
                self.ops.append(self._parse(raw.decode("ascii").split(), by_ino))

    def _obj(self, by_ino, ino, n, new=None):
        if new is not None:
            key = ("n", n)
            self.objs[key] = new
            by_ino[ino] = key
        elif ino not in by_ino:
            key = ("?", ino)
            self.objs[key] = Obj("file", 0o100600, 0, 0)
            by_ino[ino] = key
        return by_ino[ino]

    def _parse(self, f, by_ino):
        n, kind = int(f[0]), f[1]
        op = Op(n, kind, " ".join(f[1:])[:200])
        if kind in ("create", "mknod", "mkdir", "symlink"):
            ino, parent, path, mode, uid, gid = int(f[2]), int(f[3]), dec(f[4]), int(f[5]), int(f[6]), int(f[7])
            extra = f[8] if len(f) > 8 else "0"
            okind = {"create": "file", "mknod": "node", "mkdir": "dir", "symlink": "symlink"}[kind]
            o = Obj(okind, mode, uid, gid, target=dec(extra) if kind == "symlink" else b"",
                    rdev=int(extra) if kind == "mknod" else 0)
            op.obj = self._obj(by_ino, ino, n, o)
            op.dirs, op.path = (self._obj(by_ino, parent, n),), path
        elif kind in ("unlink", "rmdir"):
            op.obj = self._obj(by_ino, int(f[2]), n)
            op.dirs, op.path = (self._obj(by_ino, int(f[3]), n),), dec(f[4])
        elif kind in ("link", "rename"):
            op.obj = self._obj(by_ino, int(f[2]), n)
            # A link changes only the directory it adds a name to; a rename
            # changes both of its directories.
            dirs = (self._obj(by_ino, int(f[5]), n),) if kind == "link" else \
                (self._obj(by_ino, int(f[3]), n), self._obj(by_ino, int(f[5]), n))
            op.dirs = tuple(dict.fromkeys(dirs))
            op.path, op.path2 = dec(f[4]), dec(f[6])
        elif kind == "write":
            op.obj, op.off, op.data = self._obj(by_ino, int(f[2]), n), int(f[3]), dec(f[4])
        elif kind == "trunc":
            op.obj, op.size = self._obj(by_ino, int(f[2]), n), int(f[3])
        elif kind == "chmod":
            op.obj, op.mode = self._obj(by_ino, int(f[2]), n), int(f[3])
        elif kind == "chown":
            op.obj, op.uid, op.gid = self._obj(by_ino, int(f[2]), n), int(f[3]), int(f[4])
        elif kind in SYNC:
            op.obj = self._obj(by_ino, int(f[2]), n)
        else:
            raise ValueError(f"unknown crashfs log line: {' '.join(f)}")
        return op

    @property
    def count(self):
        return len(self.ops) - 1

    def split(self, cut):
        """(durable, pending): the numbers of the changes made up to
        operation cut that a power cut there cannot lose, and the others."""
        file_synced, dir_synced = set(), set()
        durable, pending = [], []
        for op in reversed(self.ops[1:cut + 1]):
            if op.kind == "fsync":
                file_synced.add(op.obj)
            elif op.kind == "fsyncdir":
                dir_synced.add(op.obj)
            elif op.kind in ENTRY:
                (durable if all(d in dir_synced for d in op.dirs) else pending).append(op.n)
            elif op.kind in DATA:
                (durable if op.obj in file_synced else pending).append(op.n)
        return sorted(durable), sorted(pending)

    def random_choice(self, pending, rng):
        """An allowed subset of pending: a prefix of each directory's entry
        changes (a cross-directory rename in both or neither), a prefix of
        each file's data changes, the last write kept maybe torn. Returns
        (kept op numbers, {op number: bytes kept of that write})."""
        by_dir, by_obj = {}, {}
        for n in pending:
            op = self.ops[n]
            if op.kind in ENTRY:
                for d in op.dirs:
                    by_dir.setdefault(d, []).append(n)
            else:
                by_obj.setdefault(op.obj, []).append(n)
        keep_len = {d: rng.randint(0, len(ns)) for d, ns in by_dir.items()}
        changed = True
        while changed:
            changed = False
            kept = {d: set(ns[:keep_len[d]]) for d, ns in by_dir.items()}
            for d, ns in by_dir.items():
                for i, n in enumerate(ns[:keep_len[d]]):
                    if any(n not in kept[o] for o in self.ops[n].dirs):
                        keep_len[d] = i
                        changed = True
                        break
        keep = set()
        for d, ns in by_dir.items():
            keep.update(ns[:keep_len[d]])
        torn = {}
        for o, ns in by_obj.items():
            k = rng.randint(0, len(ns))
            keep.update(ns[:k])
            if k and self.ops[ns[k - 1]].kind == "write" and rng.random() < 0.5:
                torn[ns[k - 1]] = rng.randint(0, len(self.ops[ns[k - 1]].data))
        return keep, torn

    def states(self, cut, rng, prefixes=2, randoms=2):
        """The crash states of a cut after operation cut: (name, kept, torn)."""
        durable, pending = self.split(cut)
        yield "durable only", set(durable), {}
        yield "everything (a kill -9)", set(durable) | set(pending), {}
        if len(pending) > 1:
            for k in sorted(rng.sample(range(1, len(pending)), min(prefixes, len(pending) - 1))):
                yield f"prefix {k}/{len(pending)}", set(durable) | set(pending[:k]), {}
        for i in range(randoms):
            keep, torn = self.random_choice(pending, rng)
            yield f"random {i + 1}", set(durable) | keep, torn

    def build(self, cut, kept, torn):
        """The tree of a crash state: {path: object key} and each object's
        (content, mode, uid, gid) after the kept changes up to cut."""
        ns = dict((p, ("s", ino)) for p, ino in self.snapshot.entries.items())
        attrs = {k: [bytearray(o.content), o.mode, o.uid, o.gid] for k, o in self.objs.items()}
        for op in self.ops[1:cut + 1]:
            if op.n not in kept:
                continue
            k = op.kind
            if k in ("create", "mknod", "mkdir", "symlink"):
                ns[op.path] = op.obj
            elif k in ("unlink", "rmdir"):
                ns.pop(op.path, None)
            elif k == "link":
                ns[op.path2] = op.obj
            elif k == "rename":
                if ns.get(op.path) == op.obj:
                    del ns[op.path]
                ns[op.path2] = op.obj
            elif k == "write":
                a = attrs[op.obj][0]
                data = op.data[:torn[op.n]] if op.n in torn else op.data
                if len(a) < op.off:
                    a.extend(b"\0" * (op.off - len(a)))
                a[op.off:op.off + len(data)] = data
            elif k == "trunc":
                a = attrs[op.obj][0]
                del a[op.size:]
                a.extend(b"\0" * (op.size - len(a)))
            elif k == "chmod":
                attrs[op.obj][1] = op.mode
            elif k == "chown":
                attrs[op.obj][2], attrs[op.obj][3] = op.uid, op.gid
        # An entry whose directory is not in the state is not either.
        tree = {}
        for p in sorted(ns, key=lambda p: p.count(b"/") if p else -1):
            parent = os.path.dirname(p)
            if p == b"" or (parent in tree and self.objs[tree[parent]].kind == "dir"):
                tree[p] = ns[p]
        return tree, attrs

    def digest(self, tree, attrs):
        h = hashlib.sha256()
        for p in sorted(tree):
            k = tree[p]
            content, mode, uid, gid = attrs[k]
            h.update(repr((p, str(k), self.objs[k].kind, mode, uid, gid, hashlib.sha256(content).hexdigest())).encode())
        return h.hexdigest()

    def write(self, tree, attrs, dest):
        """Writes a crash state's tree into the directory dest (made here)."""
        first_path = {}
        bdest = os.fsencode(dest)
        for p in sorted(tree, key=lambda p: p.count(b"/") if p else -1):
            k = tree[p]
            o = self.objs[k]
            content, mode, uid, gid = attrs[k]
            full = os.path.join(bdest, p) if p else bdest
            if k in first_path and o.kind != "dir":
                os.link(first_path[k], full)
                continue
            first_path[k] = full
            if o.kind == "dir":
                os.makedirs(full, exist_ok=True)
            elif o.kind == "file":
                with open(full, "wb") as f:
                    f.write(content)
            elif o.kind == "symlink":
                os.symlink(o.target, full)
            else:
                os.mknod(full, mode, o.rdev)
            os.lchown(full, uid, gid)
            if o.kind != "symlink":
                os.chmod(full, stat.S_IMODE(mode))

    def describe(self, lo, hi):
        """The log's lines lo..hi, for a failure's message."""
        return "\n".join(f"  {op.n} {op.line}" for op in self.ops[max(lo, 1):hi + 1])


def cut_points(log, acks, count, rng):
    """count cut points: just after each acknowledgement (the first instant
    the sender may rely on it), just before each sync (the widest window of
    pending changes), the rest spread over the whole log."""
    syncs = [op.n - 1 for op in log.ops[1:] if op.kind in SYNC and op.n > 1]
    after_acks = sorted(set(a for a in acks if a <= log.count))
    points = set(rng.sample(after_acks, min(len(after_acks), max(1, count // 3))))
    if syncs:
        points.update(rng.sample(syncs, min(len(syncs), count // 3)))
    while len(points) < min(count, log.count):
        points.add(rng.randint(1, log.count))
    return sorted(points)


def make_rng(seed):
    return random.Random(seed)
