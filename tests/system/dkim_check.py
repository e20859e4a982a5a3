"""Checks every DKIM-Signature of the message on stdin with dkimpy
(Debian's python3-dkim; PyNaCl for Ed25519), an implementation that shares
no code with postern or OpenDKIM. Keys come from the JSON object in argv[1]
({"selector._domainkey.domain": "v=DKIM1; k=...; p=..."}), standing in
for DNS. Prints a JSON list, one [d, s, a, verified] per signature, in
the order they appear. Run with the system's /usr/bin/python3, for which
Debian installs the packages."""
import json
import sys

import dkim


def main():
    records = json.loads(sys.argv[1])
    raw = sys.stdin.buffer.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    def dns(name, timeout=5):
        text = records.get(name.decode().rstrip("."))
        return text.encode() if text else None

    d = dkim.DKIM(raw)
    out = []
    for i, field in enumerate(f for f in d.headers if f[0].lower() == b"dkim-signature"):
        tags = dict(t.strip().split(b"=", 1) for t in field[1].split(b";") if b"=" in t)
        try:
            ok = d.verify(idx=i, dnsfunc=dns)
        except dkim.DKIMException:
            ok = False
        out.append([tags[b"d"].decode(), tags[b"s"].decode(), tags[b"a"].decode(), bool(ok)])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
