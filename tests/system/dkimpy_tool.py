"""dkimpy (Debian's python3-dkim; PyNaCl for Ed25519), an implementation of
DKIM that shares no code with postern or OpenDKIM, for the tests:

    dkimpy_tool.py verify RECORDS_JSON      < message   prints [[d, s, a, verified], ...]
    dkimpy_tool.py ed25519-key                           prints {"private": ..., "public": ...}
    dkimpy_tool.py sign-ed25519 DOMAIN SELECTOR PRIVATE < message > signed message

verify checks every DKIM-Signature, in the order they appear, with keys
from the JSON object ({"selector._domainkey.domain": "v=DKIM1; ..."})
standing in for DNS. Run with the system's /usr/bin/python3, for which
Debian installs the packages."""
import base64
import json
import sys

import dkim
import nacl.signing


def crlf(raw):
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def verify(records_json):
    records = json.loads(records_json)
    raw = crlf(sys.stdin.buffer.read())

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


def ed25519_key():
    key = nacl.signing.SigningKey.generate()
    print(json.dumps({"private": base64.b64encode(key.encode()).decode(),
                      "public": base64.b64encode(key.verify_key.encode()).decode()}))


def sign_ed25519(domain, selector, private):
    raw = crlf(sys.stdin.buffer.read())
    sig = dkim.sign(raw, selector.encode(), domain.encode(), private.encode(),
                    signature_algorithm=b"ed25519-sha256", include_headers=[b"from", b"to", b"subject"])
    sys.stdout.buffer.write(sig + raw)


if __name__ == "__main__":
    if sys.argv[1] == "verify":
        verify(sys.argv[2])
    elif sys.argv[1] == "ed25519-key":
        ed25519_key()
    elif sys.argv[1] == "sign-ed25519":
        sign_ed25519(*sys.argv[2:5])
    else:
        sys.exit("usage: see the docstring")
