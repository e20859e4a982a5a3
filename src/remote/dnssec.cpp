// dnssec: see dnssec.hpp.
//
// Queries run asynchronously in libunbound's own thread and are waited for
// with poll on its descriptor, so each is bounded by the caller's timeout
// whatever the name servers do (libunbound's own retries can take
// minutes), and cancelled when it runs out.
#include "dnssec.hpp"

#include <poll.h>
#include <sys/stat.h>
#include <unbound.h>

#include <chrono>

#include "mail/conf.hpp"
#include "mail/control.hpp"

namespace postern::remote {

namespace {

const char* const root_anchor = "/usr/share/dns/root.key";

struct Pending {
  bool done = false;
  int err = 0;
  ub_result* result = nullptr;
};

void on_answer(void* arg, int err, ub_result* result) {
  auto* p = static_cast<Pending*>(arg);
  p->done = true;
  p->err = err;
  p->result = result;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

const char* status_name(DnssecAnswer::Status s) {
  switch (s) {
    case DnssecAnswer::Status::secure: return "secure";
    case DnssecAnswer::Status::insecure: return "insecure";
    case DnssecAnswer::Status::bogus: return "bogus";
    case DnssecAnswer::Status::failed: return "failed";
  }
  return "?";
}

DnssecResolver::~DnssecResolver() {
  if (ctx_) ub_ctx_delete(ctx_);
}

std::unique_ptr<DnssecResolver> DnssecResolver::open(int timeout, std::string& why) {
  std::unique_ptr<DnssecResolver> r(new DnssecResolver);
  r->timeout_ = timeout;
  r->ctx_ = ub_ctx_create();
  if (!r->ctx_) {
    why = "unable to start libunbound";
    return nullptr;
  }
  int err = ub_ctx_resolvconf(r->ctx_, "/etc/resolv.conf");
  if (err != 0) {
    why = std::string("unable to read /etc/resolv.conf: ") + ub_strerror(err);
    return nullptr;
  }
  // The thread, not a forked process: remote may hold a socket and
  // a message descriptor that a child should not share.
  ub_ctx_async(r->ctx_, 1);
  std::string anchors = conf::path("control/trustanchors");
  if (exists(anchors)) {
    auto lines = control::lines("trustanchors");
    if (!lines) {
      why = "unable to read control/trustanchors";
      return nullptr;
    }
    for (auto& l : *lines) {
      err = ub_ctx_add_ta(r->ctx_, l.c_str());
      if (err != 0) {
        why = "control/trustanchors has a record that does not load (" + std::string(ub_strerror(err)) + "): " + l;
        return nullptr;
      }
    }
    if (lines->empty()) {
      why = "control/trustanchors names no trust anchor";
      return nullptr;
    }
  } else if (exists(root_anchor)) {
    err = ub_ctx_add_ta_file(r->ctx_, root_anchor);
    if (err != 0) {
      why = std::string("the root trust anchor ") + root_anchor + " does not load: " + ub_strerror(err);
      return nullptr;
    }
  } else {
    why = std::string("no DNSSEC trust anchor: neither control/trustanchors nor ") + root_anchor + " exists";
    return nullptr;
  }
  return r;
}

DnssecAnswer DnssecResolver::query(const std::string& name, int type) {
  DnssecAnswer out;
  Pending p;
  int id = 0;
  int err = ub_resolve_async(ctx_, name.c_str(), type, 1, &p, on_answer, &id);
  if (err != 0) {
    out.why = std::string("libunbound: ") + ub_strerror(err);
    return out;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_);
  while (!p.done) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ub_cancel(ctx_, id);
      out.why = "no answer within " + std::to_string(timeout_) + " s";
      return out;
    }
    pollfd pfd{ub_fd(ctx_), POLLIN, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n > 0) ub_process(ctx_);
  }
  if (p.err != 0 || !p.result) {
    out.why = std::string("libunbound: ") + ub_strerror(p.err);
    return out;
  }
  ub_result* r = p.result;
  if (r->bogus) {
    out.status = DnssecAnswer::Status::bogus;
    out.why = r->why_bogus ? r->why_bogus : "DNSSEC validation failed";
  } else if (r->rcode != 0 && r->rcode != 3) {
    out.why = "the DNS server answered with rcode " + std::to_string(r->rcode);
  } else {
    out.status = r->secure ? DnssecAnswer::Status::secure : DnssecAnswer::Status::insecure;
    out.nxdomain = r->nxdomain != 0;
    for (int i = 0; r->havedata && r->data[i]; ++i) out.records.emplace_back(r->data[i], static_cast<std::size_t>(r->len[i]));
    if (r->answer_packet && r->answer_len > 0)
      out.packet.assign(static_cast<const char*>(r->answer_packet), static_cast<std::size_t>(r->answer_len));
  }
  ub_resolve_free(r);
  return out;
}

}  // namespace postern::remote
