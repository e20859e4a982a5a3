// remote_run: runs remote(8) for one message and reads its one line per
// recipient, for rspawn (every remote delivery) and lspawn's forwarder (a
// user the directory places on another mailbox host). The caller has
// already become posternr: remote refuses to run as root.
//
// Trusts remote for nothing but short lines: each is bounded (2000 bytes)
// and must start with K, Z or D; a recipient remote says nothing about
// (it crashed, or printed junk) is deferred.
#pragma once
#include <string>
#include <vector>

namespace postern {

struct RemoteResult {
  char result;  // status::delivered, deferred or failed
  std::string text;
};

// remote domain sender recipients..., with message (a descriptor open on
// the message file) as its fd 0; one result for each recipient, in order.
std::vector<RemoteResult> run_remote(int message, const std::string& domain, const std::string& sender,
                                     const std::vector<std::string>& recipients);

}  // namespace postern
