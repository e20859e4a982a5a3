"""A small DNS server for test_remote_dns (UDP and TCP on one address,
port 53) whose MX answer for big.test is about 64 KiB: hundreds of MX
records with long names. Over UDP it answers with the TC bit and no
records, so the resolver asks again over TCP and gets the whole answer.

    python3 bigdns.py ADDRESS BEST_MX_ADDRESS

mx.big.test (preference 10) has the A record BEST_MX_ADDRESS; the filler
MX hosts (preference 20 and up) do not exist (NXDOMAIN); any other name
gets SERVFAIL. Prints "listening" when ready."""
import socket
import struct
import sys
import threading

ZONE = "big.test"
BEST = "mx.big.test"


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def filler(i):
    # Four 60-byte labels: about 250 bytes a record, uncompressed.
    return ".".join([f"f{i:04d}" + "x" * 55] + ["y" * 60] * 3) + "." + ZONE


def mx_answers(limit):
    """MX records (name pointer to the question) until the message would
    pass limit bytes; the best MX first."""
    records, size, i = [], 0, 0
    while True:
        pref, host = (10, BEST) if i == 0 else (20 + i, filler(i))
        rdata = struct.pack(">H", pref) + encode_name(host)
        rr = b"\xc0\x0c" + struct.pack(">HHIH", 15, 1, 60, len(rdata)) + rdata
        if size + len(rr) > limit:
            return records
        records.append(rr)
        size += len(rr)
        i += 1


def parse_question(msg):
    labels, i = [], 12
    while msg[i] != 0:
        n = msg[i]
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace").lower())
        i += 1 + n
    qtype, _qclass = struct.unpack(">HH", msg[i + 1:i + 5])
    return ".".join(labels), qtype, msg[12:i + 5]


def answer(query, best_address, tcp):
    qid = query[:2]
    name, qtype, question = parse_question(query)
    records, rcode, tc = [], 0, False
    if name == ZONE and qtype == 15:
        if tcp:
            records = mx_answers(65535 - 12 - len(question))
        else:
            tc = True
    elif name == BEST and qtype == 1:
        rdata = socket.inet_aton(best_address)
        records = [b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + rdata]
    elif name == BEST or name == ZONE:
        pass  # the name exists, without records of this type
    elif name.endswith("." + ZONE):
        rcode = 3
    else:
        rcode = 2
    flags = 0x8400 | (0x0200 if tc else 0) | 0x0100 | rcode  # response, authoritative, RD echoed
    header = qid + struct.pack(">HHHHH", flags, 1, len(records), 0, 0)
    return header + question + b"".join(records)


def serve_udp(sock, best):
    while True:
        data, peer = sock.recvfrom(4096)
        try:
            sock.sendto(answer(data, best, False), peer)
        except (IndexError, struct.error):
            pass


def serve_tcp_conn(conn, best):
    with conn:
        conn.settimeout(10)
        buf = b""
        while True:
            try:
                chunk = conn.recv(4096)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
                n = struct.unpack(">H", buf[:2])[0]
                query, buf = buf[2:2 + n], buf[2 + n:]
                reply = answer(query, best, True)
                conn.sendall(struct.pack(">H", len(reply)) + reply)


def main():
    address, best = sys.argv[1], sys.argv[2]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((address, 53))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((address, 53))
    tcp.listen(16)
    threading.Thread(target=serve_udp, args=(udp, best), daemon=True).start()
    print("listening", flush=True)
    while True:
        conn, _ = tcp.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn, best), daemon=True).start()


if __name__ == "__main__":
    main()
