// agent_wire: see agent_wire.hpp.
#include "delivery/agent_wire.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "mail/status.hpp"

namespace postern::delivery {

namespace {

// printable() may go past its max by an escape and "...": cut early enough
// that every encoded text decodes again (as finish_local's 990 does).
constexpr std::size_t text_cut = max_answer_text - 10;

}  // namespace

std::string encode_lookup_answer(const LookupAnswer& a) {
  if (a.user) return "U" + encode_mail_user(*a.user);
  if (!a.mailhost.empty()) return "H" + a.mailhost;
  return "E" + log::printable(a.error, text_cut);
}

std::optional<LookupAnswer> decode_lookup_answer(std::string_view bytes) {
  if (bytes.empty() || bytes.size() > max_record) return std::nullopt;
  char kind = bytes[0];
  bytes.remove_prefix(1);
  if (kind == 'U') {
    auto u = decode_mail_user(bytes);
    if (!u) return std::nullopt;
    return LookupAnswer{std::move(*u), "", ""};
  }
  if (kind == 'H') {
    // A host name or [address]: what remote takes as its domain argument.
    if (bytes.empty() || bytes.size() > 255 || has_control(bytes) || bytes.find(' ') != std::string_view::npos)
      return std::nullopt;
    return LookupAnswer{std::nullopt, "", std::string(bytes)};
  }
  if (kind != 'E' || bytes.empty() || bytes.size() > max_answer_text || has_control(bytes)) return std::nullopt;
  return LookupAnswer{std::nullopt, std::string(bytes), ""};
}

std::string encode_agent_request(const LocalArgs& a) {
  std::string out;
  for (const std::string* f : {&a.user, &a.home, &a.local, &a.dash, &a.ext, &a.domain, &a.sender, &a.instructions}) {
    out += *f;
    out += '\0';
  }
  out += a.given ? "1" : "0";
  return out;
}

std::optional<LocalArgs> decode_agent_request(std::string_view bytes) {
  if (bytes.size() > max_record) return std::nullopt;
  auto f = split(bytes, '\0');
  if (f.size() != 9 || (f[8] != "0" && f[8] != "1")) return std::nullopt;
  return LocalArgs{std::string(f[0]), std::string(f[1]), std::string(f[2]), std::string(f[3]), std::string(f[4]),
                   std::string(f[5]), std::string(f[6]), std::string(f[7]), f[8] == "1"};
}

std::string encode_agent_answer(const AgentAnswer& a) {
  return std::to_string(a.outcome.code) + '\0' + log::printable(a.outcome.text, text_cut) + '\0' +
         (a.last ? '1' : '0');
}

std::optional<AgentAnswer> decode_agent_answer(std::string_view bytes) {
  if (bytes.size() > max_record) return std::nullopt;
  auto f = split(bytes, '\0');
  if (f.size() != 3 || (f[2] != "0" && f[2] != "1")) return std::nullopt;
  auto code = to_number(f[0]);
  if (!code || (*code != status::ok && *code != status::ok_stop && *code != status::permanent &&
                *code != status::temporary))
    return std::nullopt;
  if (f[1].size() > max_answer_text || has_control(f[1])) return std::nullopt;
  return AgentAnswer{Outcome{static_cast<int>(*code), f[1]}, f[2] == "1"};
}

bool send_record(int sock, std::string_view bytes, int fd) {
  struct iovec iov {const_cast<char*>(bytes.data()), bytes.size()};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = ::sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (static_cast<std::size_t>(n) != bytes.size()) {
      errno = EMSGSIZE;
      return false;
    }
    return true;
  }
}

int receive_record(int sock, std::string& bytes, int* fd, bool wait) {
  if (fd) *fd = -1;
  bytes.resize(max_record + 1);
  struct iovec iov {bytes.data(), bytes.size()};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | (wait ? 0 : MSG_DONTWAIT));
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    bytes.clear();
    return -1;
  }
  // Whatever descriptors came are ours to close unless the caller takes one.
  int got = -1;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int one;
      std::memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (got < 0 && fd) got = one;
      else ::close(one);
    }
  }
  bool cut = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || static_cast<std::size_t>(n) > max_record;
  if (cut) {
    if (got >= 0) ::close(got);
    bytes.clear();
    errno = EMSGSIZE;
    return -1;
  }
  bytes.resize(static_cast<std::size_t>(n));
  if (fd) *fd = got;
  return n == 0 ? 0 : 1;
}

}  // namespace postern::delivery
