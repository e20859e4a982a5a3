"""Reads and runs the IMAP scenarios in tests/system/imap_scripts (their
format is in imap_scripts/README) against one server: a port, a user and
a password, and a function that empties the user's Maildir.

Trusts: the scenario files (ours) but not the server (imap_checker bounds
every read). Returns: run() gives None when the server answered as the
scenario says, else a text saying where it first differed (the command,
the expected line and what came back), with any state-tracking error."""
import os
import re

from imap_checker import Conn, ImapError

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imap_scripts")
WAIT = 5  # seconds a "~" step waits for its responses


class Scenario:
    def __init__(self, path):
        self.name = os.path.basename(path)[:-5]
        self.connections = 1
        self.box = "INBOX"
        self.select = True
        self.login = True
        self.mails = []      # (flags, date, bytes)
        self.literals = {}
        self.steps = []      # (lineno, kind, conn, text, [expect lines])
        self.about = ""
        self._parse(path)

    def _parse(self, path):
        with open(path) as f:
            lines = f.read().split("\n")
        i = 0
        while i < len(lines):
            line, lineno = lines[i], i + 1
            i += 1
            if not line.strip():
                continue
            if line.startswith("#"):
                if not self.steps and not self.about:
                    self.about = line[1:].strip()
                continue
            if line.startswith(("mail", "literal ")):
                body = []
                while i < len(lines) and lines[i] != ".":
                    body.append(lines[i][1:] if lines[i].startswith("..") else lines[i])
                    i += 1
                i += 1
                data = "".join(b + "\r\n" for b in body).encode()
                if line.startswith("literal "):
                    words = line.split()
                    if len(words) > 2 and words[2] == "-":  # no final CRLF
                        data = data[:-2]
                    self.literals[words[1]] = data
                else:
                    m = re.match(r"mail\s*(\([^)]*\))?\s*(\"[^\"]*\")?\s*$", line)
                    if not m:
                        raise ValueError(f"{path}:{lineno}: bad mail line")
                    self.mails.append((m.group(1), m.group(2), data))
                continue
            words = line.split(None, 1)
            if words[0] == "connections":
                self.connections = int(words[1])
                continue
            if words[0] == "box":
                self.box = words[1].strip()
                continue
            if words[0] == "noselect":
                self.select = False
                continue
            if words[0] == "nologin":
                self.login = self.select = False
                continue
            m = re.match(r"(\d*)([>|~])\s?(.*)$", line)
            if m:
                self.steps.append([lineno, m.group(2), int(m.group(1) or 1), m.group(3), []])
                continue
            m = re.match(r"(<!|<|=)\s?(.*)$", line)
            if m and self.steps:
                self.steps[-1][4].append((m.group(1), m.group(2), lineno))
                continue
            raise ValueError(f"{path}:{lineno}: cannot read {line!r}")


def scenarios():
    return [Scenario(os.path.join(SCRIPTS, f)) for f in sorted(os.listdir(SCRIPTS)) if f.endswith(".imap")]


_LIST_AFTER = re.compile(r"\b(FLAGS|PERMANENTFLAGS) \(([^()]*)\)", re.I)


def _value_end(text, i):
    """Where the value (atom, quoted string or parenthesized list) that
    starts at text[i] ends, or -1."""
    if i >= len(text):
        return -1
    if text[i] == '"':
        j = i + 1
        while j < len(text) and text[j] != '"':
            j += 2 if text[j] == "\\" else 1
        return j + 1 if j < len(text) else -1
    if text[i] == "(":
        depth, j = 0, i
        while j < len(text):
            if text[j] == '"':
                j = _value_end(text, j)
                if j < 0:
                    return -1
                continue
            if text[j] == "(":
                depth += 1
            elif text[j] == ")":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        return -1
    m = re.match(r"[^\s()]+", text[i:])
    return i + m.end() if m else -1


def _fetch_items(text):
    """("* N FETCH", [items]) of a FETCH response, each item "NAME value",
    or None when text is no FETCH response with a list of items."""
    m = re.match(r"(\* \S+ FETCH) \((.*)\)$", text, re.I)
    if not m:
        return None
    body, items, i = m.group(2), [], 0
    while i < len(body):
        n = re.match(r"([^\s()\[]+(?:\[[^\]]*\])?(?:<\d+>)?) ", body[i:])
        if not n:
            return None
        j = _value_end(body, i + n.end())
        if j < 0 or (j < len(body) and body[j] != " "):
            return None
        items.append(body[i:j])
        i = j + 1
    return m.group(1), items


def _sort_fetch(text):
    """The items of a FETCH response in name order: servers may send them
    in any order (RFC 3501 7.4.2)."""
    f = _fetch_items(text)
    if f is None:
        return text
    return f[0] + " (" + " ".join(sorted(f[1], key=lambda x: x.split(" ", 1)[0].upper())) + ")"


def _runs(seqset, ordered=False):
    nums = []
    for part in seqset.split(","):
        a, _, b = part.partition(":")
        a, b = int(a), int(b or a)
        if abs(b - a) > 100000:
            return seqset
        nums += list(range(a, b + 1)) if a <= b else list(range(a, b - 1, -1))
    if ordered:
        nums = sorted(set(nums))
    out, i = [], 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}:{nums[j]}")
        i = j + 1
    return ",".join(out)


def normalize(text):
    """Whitespace runs become one space, the words of a flag list are
    sorted (their order means nothing, RFC 3501 7.2.6), and so are the
    items of a FETCH response."""
    text = re.sub(r"\s+", " ", text.strip())
    text = _LIST_AFTER.sub(lambda m: f"{m.group(1)} ({' '.join(sorted(m.group(2).split(), key=str.lower))})", text)
    # "2:3" and "2,3" are one set: ESEARCH ALL and VANISHED sets are
    # written with every run of consecutive numbers as a range.
    text = re.sub(r"\b(ALL|VANISHED|VANISHED \(EARLIER\)) (\d+(?:[:,]\d+)*)\b", lambda m: m.group(1) + " " + _runs(m.group(2), m.group(1).upper().startswith("V")), text, flags=re.I)
    # STATUS items come in any order (RFC 3501 7.2.4): sorted by name.
    m = re.match(r"(\* STATUS .*? )\(([^()]*)\)$", text, re.I)
    if m:
        w = m.group(2).split()
        if len(w) % 2 == 0:
            pairs = sorted((w[i:i + 2] for i in range(0, len(w), 2)), key=lambda p: p[0].upper())
            text = m.group(1) + "(" + " ".join(" ".join(p) for p in pairs) + ")"
    # Some servers write ")(" between list members, some ") (".
    text = re.sub(r"\)\s+\(", ")(", text)
    return _sort_fetch(text)


def compile_pattern(pattern, variables):
    """A pattern line as a regular expression: $name matches one token
    (an atom, a number or a quoted string) and binds it the first time;
    later uses must be equal. $* matches anything. Case does not matter."""
    out, names = "", []
    pos = 0
    pattern = normalize(pattern)
    for m in re.finditer(r"\$(\*|\w+)", pattern):
        text = pattern[pos:m.start()]
        name = m.group(1)
        spaced = name == "*" and text.endswith(" ")
        out += re.escape(text[:-1] if spaced else text).replace("\\ ", " ")
        pos = m.end()
        if spaced:
            out += "(?:\x00.*?)?"  # " $*" may also match nothing at all
        elif name == "*":
            out += ".*?"
        elif name in variables:
            # a value bound from a quoted string matches it quoted or not
            v = re.escape(variables[name])
            out += f'(?:"{v}"|{v})'

        elif name in names:
            out += f"(?P={name})"
        else:
            names.append(name)
            out += f"(?P<{name}>\"(?:[^\"\\\\]|\\\\.)*\"|[^\\s()\\[\\]]+)"
    out += re.escape(pattern[pos:]).replace("\\ ", " ")
    return re.compile(out.replace(" ", r"\s+").replace("\x00", r"\s"), re.I | re.S), names


def _bind(m, names, variables):
    for name in names:
        v = m.group(name)
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        variables[name] = v


def _fetch_match(pattern, line, variables):
    """A FETCH pattern matches a FETCH response that has each of its items
    (in any order); the response may carry more (an unsolicited UID, say),
    as imaptest allows. None when either is no FETCH with items."""
    p, r = _fetch_items(normalize(pattern)), _fetch_items(normalize(line))
    if p is None or r is None:
        return None
    trial = dict(variables)
    rx, names = compile_pattern(p[0], trial)
    m = rx.fullmatch(r[0])
    if not m:
        return False
    _bind(m, names, trial)
    left = list(r[1])
    for item in p[1]:
        rx, names = compile_pattern(item, trial)
        for k, have in enumerate(left):
            m = rx.fullmatch(have)
            if m:
                _bind(m, names, trial)
                del left[k]
                break
        else:
            return False
    variables.update(trial)
    return True


def match_one(pattern, lines, variables, used=()):
    for n, line in enumerate(lines):
        if n in used:
            continue
        fm = _fetch_match(pattern, line, variables)
        if fm is True:
            return n
        if fm is False:
            continue
        rx, names = compile_pattern(pattern, variables)
        m = rx.fullmatch(normalize(line))
        if m:
            _bind(m, names, variables)
            return n
    return None


class Failure(Exception):
    pass


def run(scenario, port, user, password, wipe):
    """Runs scenario on a freshly wiped Maildir; returns None or the first
    difference."""
    wipe()
    variables = {"box": scenario.box, "box2": scenario.box + "2" if scenario.box != "INBOX" else "box2",
                 "user": user, "password": password}
    conns = {}
    errors = []
    try:
        for n in range(1, scenario.connections + 1):
            c = conns[n] = Conn(port, str(n))
            if scenario.login:
                c.simple(f"LOGIN {user} {password}")
        first = conns[1]
        if scenario.box.upper() != "INBOX":
            first.simple(f"CREATE {scenario.box}")
        for flags, date, data in scenario.mails:
            args = " ".join(x for x in (flags, date) if x)
            untagged, tagged = first.command(f"APPEND {scenario.box} {args + ' ' if args else ''}\0", [data])
            if not re.match(r"\S+ OK\b", tagged, re.I):
                raise Failure(f"setup: APPEND answered {tagged}")
        if scenario.select:
            for c in conns.values():
                c.select(scenario.box)
        pending = {}   # connection -> [(tag, untagged list)] sent with |
        idle = {}      # connection -> tag of the IDLE in progress
        for lineno, kind, cn, text, expect in scenario.steps:
            if cn not in conns:
                raise Failure(f"line {lineno}: no connection {cn} (connections {scenario.connections})")
            c = conns[cn]
            variables["tag"] = f"{c.name}.{c.tagn + 1}"  # the tag this step's command gets
            text = subst(text, variables)
            where = f"line {lineno}: {cn}{kind} {text[:200]}{'...' if len(text) > 200 else ''}"
            if kind == "|":
                tag = c.next_tag()
                c.send(f"{tag} {text}\r\n")
                pending.setdefault(cn, []).append(tag)
                continue
            if kind == "~":
                got = []
                wait_for(c, expect, variables, got, where)
                continue
            tagged = None
            lits = []

            def lit(m):
                lits.append(scenario.literals[m.group(1)])
                return "\0"
            text = re.sub(r"<<(\w+)>>", lit, text)
            try:
                if text.upper() == "DONE" and cn in idle:
                    c.send("DONE\r\n")
                    got, tagged = c.finish(idle.pop(cn))
                elif text.upper() == "IDLE":
                    tag = c.next_tag()
                    c.send(f"{tag} IDLE\r\n")
                    got = []
                    while True:
                        line = c.read_line()
                        if line.startswith("+"):
                            break
                        if line.startswith(tag + " "):
                            raise Failure(f"{where}: IDLE answered {line}")
                        got.append(line)
                    idle[cn] = tag
                    tagged = "+ idling"
                else:
                    got = []
                    for tag in pending.pop(cn, []):
                        more, t = c.finish(tag)
                        got += more + [t]
                    more, tagged = c.command(text, lits)
                    got += more
            except ImapError as e:
                raise Failure(f"{where}: {e}")
            check(expect, got, tagged, variables, where)
        for c in conns.values():
            errors += c.track.errors
            try:
                c.command("LOGOUT", timeout=5)
            except ImapError:
                pass
    except Failure as e:
        for c in conns.values():
            errors += c.track.errors
        return str(e) + ("\nstate errors:\n  " + "\n  ".join(errors) if errors else "")
    except ImapError as e:
        return f"setup: {e}"
    finally:
        for c in conns.values():
            c.close()
    if errors:
        return "state errors:\n  " + "\n  ".join(errors)
    return None


def subst(text, variables):
    return re.sub(r"\$(\w+)", lambda m: variables.get(m.group(1), m.group(0)), text)


def show(lines):
    return "\n    ".join(l[:2000] for l in lines) or "(nothing)"


def check(expect, got, tagged, variables, where):
    want_tag = [e for e in expect if e[0] == "="]
    status = want_tag[0][1] if want_tag else "OK"
    if tagged != "+ idling":
        words = status.split(None, 1)
        choices = words[0].upper().split("|")
        rest = tagged.split(" ", 2)
        if len(rest) < 2 or rest[1].upper() not in choices:
            raise Failure(f"{where}\n  expected tagged {status}\n  got {tagged}\n  untagged:\n    {show(got)}")
        if len(words) > 1 and match_one(words[1] + " $*", [rest[2] if len(rest) > 2 else ""], variables) is None:
            raise Failure(f"{where}\n  expected tagged {status}\n  got {tagged}")
    used = set()
    for kind, pattern, lineno in expect:
        if kind == "<":
            n = match_one(pattern, got, variables, used)
            if n is None:
                raise Failure(f"{where}\n  expected (line {lineno}) {subst(pattern, variables)}\n  got:\n    {show(got)}\n  tagged: {tagged}")
            used.add(n)
        elif kind == "<!":
            n = match_one(pattern, got, dict(variables))
            if n is not None:
                raise Failure(f"{where}\n  unexpected (line {lineno}) {got[n]}")


def wait_for(c, expect, variables, got, where):
    import time
    deadline = time.time() + WAIT
    used = set()
    for kind, pattern, lineno in expect:
        if kind != "<":
            continue
        while True:
            n = match_one(pattern, got, variables, used)
            if n is not None:
                used.add(n)
                break
            left = deadline - time.time()
            try:
                if left <= 0:
                    raise ImapError("timeout")
                got.append(c.read_line(timeout=left))
            except ImapError:
                raise Failure(f"{where}\n  waited {WAIT}s for (line {lineno}) {subst(pattern, variables)}\n  got:\n    {show(got)}")
    for kind, pattern, lineno in expect:
        if kind == "<!" and match_one(pattern, got, dict(variables)) is not None:
            raise Failure(f"{where}\n  unexpected (line {lineno}) {pattern}")
