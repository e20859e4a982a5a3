// imapd-mailbox's session: the authenticated and selected states of IMAP
// (RFC 3501) over the user's Maildir++ tree. See imapd(8).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "imap/imap_message.hpp"
#include "imap/imap_parse.hpp"
#include "imap/imap_store.hpp"
#include "base/netio.hpp"

namespace imapd {

using namespace postern;
using namespace postern::imap;

struct Msg {
  std::uint32_t uid = 0;
  std::string name;  // in cur/
  std::uint64_t vsize = 0;
  Flags flags;
  bool recent = false;
  bool gone = false;  // removed by someone else; its EXPUNGE is not sent yet
};

struct Selected {
  std::string name;
  std::unique_ptr<Folder> folder;
  bool readonly = false;
  std::vector<Msg> msgs;
  std::vector<std::string> keywords;
  std::size_t keywords_sent = 0;  // how many the last FLAGS response named
  struct timespec stamp[3] {};     // mtimes of new/, cur/, postern-uidlist
};

// The SPECIAL-USE attribute of a folder name ("\\Sent" for Sent), or null.
const char* special_use(std::string_view name);
// The name with any case of a leading INBOX written INBOX.
std::string canonical(std::string name);

class Session {
 public:
  Session(std::string root, NetIO& io, std::string who);
  [[noreturn]] void run(const std::string& login_tag);

  static std::string capabilities();

 private:
  // dispatch
  void command(const std::string& raw);
  void bad(const std::string& tag, const std::string& text);
  void no(const std::string& tag, const std::string& text) { io_.put(tag + " NO " + text + "\r\n"); }
  void ok(const std::string& tag, const std::string& text) { io_.put(tag + " OK " + text + "\r\n"); }
  [[noreturn]] void bye(const std::string& text, const std::string& why);

  // authenticated state
  void cmd_select(const std::string& tag, Parser& p, bool readonly);
  void cmd_create(const std::string& tag, Parser& p);
  void cmd_delete(const std::string& tag, Parser& p);
  void cmd_rename(const std::string& tag, Parser& p);
  void cmd_subscribe(const std::string& tag, Parser& p, bool sub);
  void cmd_list(const std::string& tag, Parser& p, bool lsub);
  void cmd_status(const std::string& tag, Parser& p);
  void cmd_append(const std::string& tag, Parser& p);
  void cmd_idle(const std::string& tag);
  std::optional<std::string> status_of(const std::string& name, const std::vector<std::string>& items);

  // selected state
  void cmd_fetch(const std::string& tag, Parser& p, bool uid);
  void cmd_store(const std::string& tag, Parser& p, bool uid);
  void cmd_search(const std::string& tag, Parser& p, bool uid);
  void cmd_copy(const std::string& tag, Parser& p, bool uid, bool move);
  void cmd_expunge(const std::string& tag, const SeqSet* uids);
  void deselect() { sel_.reset(); }

  // The messages of a set (sequence numbers or UIDs), as indexes.
  std::optional<std::vector<std::size_t>> resolve(std::string_view set, bool uid);
  // Brings the selected folder up to date and sends the untagged
  // responses; expunges only when allowed.
  void update(bool expunges);
  bool changed();
  void send_flags_list();
  std::string flags_text(const Msg& m) const;
  bool set_flags(Msg& m, const Flags& f);
  std::string path_of(Msg& m);
  void refresh_names();
  std::optional<std::string> read_msg(Msg& m, bool header_only);
  const Message* parsed(Msg& m, bool header_only);
  std::optional<std::time_t> internal_date(Msg& m);
  std::uint32_t keyword_bits(const std::vector<std::string>& kws, Folder& f, bool create, bool& ok);

  std::string root_;
  NetIO& io_;
  std::string who_;
  Limits limits_;
  std::unique_ptr<Selected> sel_;
  int errors_ = 0;
  // The last message read, parsed (one at a time: messages can be large).
  std::uint32_t cached_uid_ = 0;
  bool cached_header_only_ = false;
  std::unique_ptr<Message> cached_;
  // Headers read for ENVELOPE and header fetches, per UID, within a budget.
  std::unordered_map<std::uint32_t, std::string> headers_;
  std::size_t headers_bytes_ = 0;
  // ID, ENABLE, etc. bookkeeping
  friend struct Searcher;
};

std::string uid_set_text(std::vector<std::uint32_t> uids);

}  // namespace imapd
