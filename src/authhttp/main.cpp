// authhttp: the authentication server of nginx's mail proxy (its auth_http
// directive), run once for each request by tcpserver (authhttp(8)).
//
// nginx asks, for each IMAP, POP3 or SMTP login it proxies, whether the
// user and password are right and which host to send the session to.
// authhttp checks the password with checkpassword, exactly as pop3d and
// imapd do (the same login parent: login_parent.hpp, authenticate only),
// then asks the user directory which mailbox host serves the user
// (mailHost, mail_directory.hpp) and answers with its address and the
// protocol's port (143, 110, 25; control/authhttpports changes them).
// Users the directory does not know go to control/me.
//
//   tcpserver -R 127.0.0.1 9000 authhttp
//
// Started as root, it splits like pop3d: the HTTP request is read and
// parsed by a stage running as posternd (auth_request.hpp), the root
// parent only runs checkpassword. A wrong password is answered with
// Auth-Wait (nginx lets the client try again, up to 10 attempts); an
// unreadable directory or control file with a temporary failure. Every
// answer is logged with the user and the client nginx names.
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>

#include "auth_request.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "base/secret.hpp"
#include "base/strings.hpp"
#include "base/unique.hpp"
#include "directory/mail_directory.hpp"
#include "login/login_parent.hpp"
#include "login/login_request.hpp"
#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "mail/status.hpp"

using namespace postern;
using namespace postern::authhttp;

namespace {

constexpr int request_seconds = 30;
// nginx's own advice: past 10 or so attempts, answer without Auth-Wait.
constexpr unsigned long max_attempts = 10;

// The header block, read within request_seconds; empty on a timeout, an
// early end or too many bytes.
std::string read_request() {
  std::string in;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(request_seconds);
  char buf[2048];
  while (!complete(in)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    struct pollfd p {0, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
    ssize_t r = ::read(0, buf, sizeof buf);
    if (r <= 0) return {};
    in.append(buf, static_cast<std::size_t>(r));
    if (in.size() > max_request) return {};
  }
  return in;
}

// The port for protocol: control/authhttpports lines "imap 143", else the
// protocol's own.
std::optional<unsigned> port_for(const std::string& protocol, std::string& why) {
  unsigned port = protocol == "imap" ? 143 : protocol == "pop3" ? 110 : 25;
  auto lines = control::lines("authhttpports", why);
  if (!lines) return std::nullopt;
  for (auto& l : *lines) {
    auto f = split(l, ' ');
    if (f.size() != 2 || lower(f[0]) != protocol) continue;
    auto n = to_number(f[1]);
    if (!n || *n == 0 || *n > 65535) return why = "control/authhttpports: a bad port for " + protocol, std::nullopt;
    port = static_cast<unsigned>(*n);
  }
  return port;
}

// The first address of host (nginx takes addresses only); empty on failure.
std::string address_of(std::string host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  struct addrinfo hints {};
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res) return {};
  char text[INET6_ADDRSTRLEN] = "";
  const void* a = res->ai_family == AF_INET6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr)
                                             : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr);
  ::inet_ntop(res->ai_family, a, text, sizeof text);
  ::freeaddrinfo(res);
  return text;
}

// Where user's sessions go: the directory's mailHost, else control/me.
std::string mailbox_host(const std::string& user, std::string& why) {
  auto& dir = directory::mail_directory();
  if (!dir.reload(why)) return {};
  if (dir.configured()) {
    directory::MailEntry e;
    switch (dir.find_login(user, e, why)) {
      case directory::Found::error: why = "the user directory: " + why; return {};
      case directory::Found::yes:
        if (!e.mailhost.empty()) return e.mailhost;
        break;
      case directory::Found::no: break;
    }
  }
  auto me = control::line("me", host_name(), why);
  return me ? *me : std::string();
}

int serve(int login_fd) {
  std::string bytes = read_request();
  std::string why = "none in time, or too long";
  auto req = bytes.empty() ? std::nullopt : parse_auth_request(bytes, why);
  secret::wipe(bytes);
  if (!req) {
    log::line("refused a request: {}", why);
    write_all(1, std::string("HTTP/1.0 400 Bad Request\r\n\r\n"));
    return status::ok;
  }
  std::string who = log::printable(req->user, 64) + " from " + log::printable(req->client_ip, 64);
  if (req->method != "plain" && req->method != "login") {
    // apop and cram-md5 need the password in clear here; none is given.
    log::line("refused {} ({}): Auth-Method {} is not served", who, req->protocol, log::printable(req->method, 20));
    write_all(1, answer_refused(0));
    return status::ok;
  }
  secret::String request(login::encode_request(req->user, req->password, ""));
  secret::wipe(req->password);
  int answer = login::ask(login_fd, request.get());
  if (answer == login::reply_refused || answer == login::reply_too_many) {
    bool again = answer == login::reply_refused && req->attempt < max_attempts;
    log::line("login refused for {} ({}, attempt {})", who, req->protocol, req->attempt);
    write_all(1, answer_refused(again ? 3 : 0));
    return status::ok;
  }
  if (answer != login::reply_authenticated) {
    log::line("temporary failure for {} ({})", who, req->protocol);
    write_all(1, answer_temporary(req->protocol));
    return status::ok;
  }
  std::string host = mailbox_host(req->user, why);
  auto port = host.empty() ? std::nullopt : port_for(req->protocol, why);
  std::string address = port ? address_of(host) : std::string();
  if (address.empty()) {
    log::line("temporary failure for {} ({}): {}", who, req->protocol,
              why.empty() ? "unable to find the address of " + log::printable(host, 100) : why);
    write_all(1, answer_temporary(req->protocol));
    return status::ok;
  }
  log::line("login ok for {} ({}): to {} [{}]:{}", who, req->protocol, log::printable(host, 100), address, *port);
  write_all(1, answer_ok(address, *port));
  return status::ok;
}

}  // namespace

int main(int argc, char**) {
  log::set_program("authhttp");
  if (argc != 1) log::die(status::permanent, "usage: authhttp");
  std::string temp_reply = answer_temporary("");
  login::harden();
  login::Checker checker = login::password_checker();
  std::string why;
  if (!login::load_session_rules(checker, "authhttp", temp_reply, temp_reply, why)) {
    write_all(1, temp_reply);
    log::die(status::temporary, why);
  }
  checker.login_deadline = request_seconds + 30;
  login::split(checker, temp_reply, [](int fd) { std::_Exit(serve(fd)); });
}
