// imapd-mailbox's session: the authenticated and selected states of IMAP
// (RFC 3501) over the user's Maildir++ tree. See imapd(8).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "imap/imap_acl.hpp"
#include "imap/imap_message.hpp"
#include "imap/imap_parse.hpp"
#include "imap/imap_store.hpp"
#include "imap/imap_url.hpp"
#include "mail/maildir_quota.hpp"
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
  std::uint64_t modseq = 0;  // CONDSTORE (RFC 7162), from the folder state
};

struct Selected {
  std::string name;
  std::unique_ptr<Folder> folder;
  bool readonly = false;
  std::vector<Msg> msgs;
  std::vector<std::string> keywords;
  std::size_t keywords_sent = 0;  // how many the last FLAGS response named
  struct timespec stamp[3] {};     // mtimes of new/, cur/, dovecot-uidlist
  std::vector<std::uint32_t> saved_uids;  // SEARCHRES's "$" (RFC 5182), ascending
  std::shared_ptr<struct SearchContexts> contexts;  // CONTEXT=SEARCH's updating searches (context.cpp)
  // Share mode (acl.cpp): the requester's rights here, and its own \Seen
  // (postern-seen-<requester> in the folder), apart from the owner's.
  Rights rights = every_right;
  bool private_seen = false;
  std::set<std::uint32_t> seen;
};

// The SPECIAL-USE attribute of a folder name ("\\Sent" for Sent), or null.
const char* special_use(std::string_view name);
// The name with any case of a leading INBOX written INBOX.
std::string canonical(std::string name);
// The stored (modified UTF-7) name of a UTF-8 mailbox name: the name as
// sent when a folder of that name is on disk (one made by Dovecot or an
// older postern under a non-NFC name stays reachable), else its NFC form;
// nothing for invalid UTF-8. Both forms of a composed folder find it.
std::optional<std::string> stored_name(const std::string& root, const std::string& utf8);

// Bounds on what one command may ask for (imapd(8), LIMITS). Past one the
// command is answered NO [LIMIT] (RFC 5530) and logged.
constexpr std::size_t max_search_keys = 256;      // keys in one SEARCH, nested ones counted
constexpr std::size_t max_search_string = 4096;   // bytes of one SEARCH string
constexpr std::size_t max_list_patterns = 64;     // patterns in one LIST
constexpr std::size_t max_list_pattern = 1024;    // bytes of reference and pattern

// A client silent this long is logged out, in IDLE and under NOTIFY too
// (Dovecot's 30 minutes; imapd(8)).
constexpr int idle_timeout = 30 * 60;  // seconds
// NOTIFY watches at most this many folders besides the selected one (two
// inotify watches each); more is NO [NOTIFICATIONOVERFLOW] (imapd(8)).
constexpr std::size_t notify_max_folders = 200;

// One command as the dispatcher hands it over: its tag, its name (upper
// case, after UID), whether it came as UID, and the parser after the name
// and the space before the arguments.
struct Cmd {
  const std::string& tag;
  const std::string& verb;
  bool uid;
  Parser& p;
};

struct AppendSpool;
class CompressTransport;
struct NotifyState;  // notify.cpp
struct NotifyDeleter {
  void operator()(NotifyState* n) const;
};

class Session {
 public:
  Session(std::string root, NetIO& io, std::string who);
  ~Session();
  [[noreturn]] void run(const std::string& login_tag);

  static std::string capabilities();
  // control/literalimapd "-" (main.cpp): LITERAL- instead of LITERAL+
  // (RFC 7888 5: never both), non-synchronizing literals of 4096 bytes.
  static inline bool literal_minus = false;
  Limits& limits() { return limits_; }
  // The login name: the quota root's name and control/quotas' key.
  void set_user(std::string user) { user_ = std::move(user); }
  // Share mode (acl.cpp): this process is the owner's, run by
  // imapd-share(8) for requester; its names are under share_prefix(),
  // and every command is checked against the folders' ACLs.
  void set_share(const std::string& requester);
  // The transport COMPRESS turns on (compress.hpp); none: COMPRESS is NO.
  void set_compress(CompressTransport* c) { compress_ = c; }

 private:
  // The owner's process of a shared folder (proxy.cpp).
  struct Proxy;
  struct ProxyDeleter {
    void operator()(Proxy* p) const;
  };
  using ProxyPtr = std::unique_ptr<Proxy, ProxyDeleter>;

  // dispatch (session.cpp): the command table says which state and
  // arguments each command needs; the handlers parse the rest.
  struct Rule;
  static const Rule* find_rule(std::string_view verb);
  void command(const std::string& raw);
  void bad(const std::string& tag, const std::string& text);
  void no(const std::string& tag, const std::string& text) {
    if (&tag != &notify_tag_) io_.put(tag + " NO " + text + "\r\n");
  }
  void ok(const std::string& tag, const std::string& text) {
    if (&tag != &notify_tag_) io_.put(tag + " OK " + text + "\r\n");
  }
  [[noreturn]] void bye(const std::string& text, const std::string& why);

  // any state
  void cmd_capability(Cmd& c);
  void cmd_noop(Cmd& c);  // NOOP, CHECK
  void cmd_logout(Cmd& c);
  void cmd_login(Cmd& c);  // LOGIN, AUTHENTICATE: already done
  void cmd_starttls(Cmd& c);
  void cmd_id(Cmd& c);
  void cmd_enable(Cmd& c);
  void cmd_namespace(Cmd& c);
  void cmd_compress(Cmd& c);  // compress.cpp

  // authenticated state
  void cmd_select(Cmd& c);  // SELECT, EXAMINE
  void cmd_create(Cmd& c);
  void cmd_delete(Cmd& c);
  void cmd_rename(Cmd& c);
  void cmd_subscribe(Cmd& c);  // SUBSCRIBE, UNSUBSCRIBE
  void cmd_list(Cmd& c);       // LIST, LSUB
  void cmd_status(Cmd& c);
  void cmd_append(Cmd& c);
  // The bytes an IMAP URL names in CATENATE (catenate.cpp); nullopt
  // answers NO [BADURL].
  std::optional<std::string> url_content(const std::string& url);
  // The message an IMAP URL's mailbox, UIDVALIDITY and UID name, parsed,
  // with its section (the whole message when the URL has none) and the
  // folder's UIDVALIDITY; nullopt when any of them does not match
  // (catenate.cpp).
  struct UrlTarget {
    Message msg;
    Section sec;
    std::uint32_t uidvalidity;
  };
  std::optional<UrlTarget> url_target(const ImapUrl& u);
  // URLAUTH (urlauth.cpp): GENURLAUTH, RESETKEY, URLFETCH, and whether a
  // signed URL is valid (nullopt: NIL), with what it names.
  void cmd_genurlauth(Cmd& c);
  void cmd_resetkey(Cmd& c);
  void cmd_urlfetch(Cmd& c);
  std::optional<UrlTarget> urlauth_target(const ImapUrl& u);
  // The spool for the next command's APPEND literal, emptied (append.cpp).
  LiteralSink* next_spool();
  // True when the last command had a literal thrown away (too large).
  bool literal_discarded() const;
  void cmd_idle(Cmd& c);
  // NOTIFY (RFC 5465), notify.cpp: NOTIFY SET and NONE; before the next
  // command is read, the events NOTIFY asks for, sent as they happen
  // until the client's next bytes come; in IDLE after a NOTIFY, the same.
  void cmd_notify(Cmd& c);
  void wait_for_command();
  // Watches the selected folder as NOTIFY (or, idling, IDLE) needs;
  // false when no NOTIFY SET is in effect.
  bool notify_follow_selection(bool idling);
  int notify_fd() const;
  int notify_interval() const;
  // What woke a wait: the kernel's events (change) or a look at every
  // watched folder's times (timeout); then the responses they call for.
  void notify_collect(bool look_all);
  void notify_deliver();
  // MessageNew's FETCH for the messages from index first on (update()).
  void notify_new_messages(std::size_t first);
  bool notify_reconcile(NotifyState& n);
  void notify_folders_changed();
  std::optional<std::string> notify_status(const std::string& name, bool initial);
  std::string notify_list_line(const std::string& name, const std::string* oldname) const;
  // True when FETCH takes the "(" fetch-att ... ")" list p is at (fetch.cpp).
  bool fetch_atts_valid(Parser& p);
  // Mailbox names as the client writes them and as they are stored
  // (modified UTF-7): the same until ENABLE UTF8=ACCEPT, UTF-8 on the
  // wire after it (RFC 6855). mailbox_out gives the name as an astring
  // for a response. folders.cpp.
  std::string mailbox_in(const std::string& name) const;
  std::string mailbox_out(const std::string& stored) const;
  // The LIST extended item (OLDNAME (name)) an IMAP4rev2 session is told
  // when a name it sent was stored normalised (NFC); empty otherwise.
  std::string oldname_item(const std::string& supplied) const;
  // A STATUS item this session may ask for: RECENT only before ENABLE
  // IMAP4rev2, DELETED only after it (RFC 9051 6.3.11).
  bool status_item_known(std::string_view item) const;
  // The untagged LIST response for one existing mailbox, as SELECT sends
  // it under IMAP4rev2 (list.cpp); extra is an extended item to append.
  std::string list_line(const std::string& name, const std::string& extra = {});
  std::optional<std::string> status_of(const std::string& name, const std::vector<std::string>& items);

  // selected state
  void cmd_close(Cmd& c);  // CLOSE, UNSELECT
  void cmd_fetch(Cmd& c);
  // The tagged answer of a FETCH some of whose messages could not be read.
  void fetch_failed(const std::string& tag, bool uid);
  void cmd_store(Cmd& c);
  void cmd_search(Cmd& c);
  void cmd_sort(Cmd& c);    // SORT (RFC 5256, 5957), ESORT (RFC 5267), sort.cpp
  void cmd_thread(Cmd& c);  // THREAD (RFC 5256), thread.cpp
  // SEARCHRES's saved result as indexes of the messages still there (search.cpp).
  std::vector<std::size_t> saved_result();
  void cmd_cancelupdate(Cmd& c);  // CONTEXT=SEARCH (RFC 5267), context.cpp
  // Sends ADDTO/REMOVEFROM for each updating search whose result changed.
  void context_updates();
  void cmd_copy(Cmd& c);  // COPY, MOVE
  void cmd_expunge(Cmd& c);

  // ACL (RFC 4314) and share mode, acl.cpp.
  void cmd_getacl(Cmd& c);
  void cmd_setacl(Cmd& c);  // SETACL, DELETEACL
  void cmd_listrights(Cmd& c);
  void cmd_myrights(Cmd& c);
  // The rights of this session on folder n (stored name): every right in
  // the user's own session, the ACL's for the requester in share mode.
  Rights rights_on(const std::string& n);
  // True when rights_on(n) has every letter; else answers tag NO
  // ([NONEXISTENT] when even "l" is missing, so nothing is revealed).
  bool allowed(const std::string& tag, const std::string& n, std::string_view letters);
  // A message's flags as this session shows them: the file's, with the
  // requester's own \Seen in share mode.
  static Flags view_flags(const Selected& s, std::uint32_t uid, std::string_view name);
  void load_private_seen(Selected& s);
  void save_private_seen();
  // STORE in share mode: each flag only with its right (s, t, w), \Seen
  // into the requester's own list.
  void store_shared(const std::string& tag, const std::vector<std::size_t>& which, FlagChange how,
                    const Flags& change, bool silent, bool uid, std::optional<std::uint64_t> unchangedsince);
  // FETCH's implicit \Seen (fetch.cpp).
  void mark_seen(Msg& m);
  void publish_acl_change();
  struct ShareMode {
    std::string requester;
    std::vector<std::string> groups;
    std::string prefix;  // "Other Users.<owner>." or "Shared."
  };
  std::optional<ShareMode> share_;

  // Shared folders as the user's own session sees them (proxy.cpp): the
  // command is relayed to an imapd-share process of the folder's owner.
  // True when the command was taken (and answered) that way.
  bool route_shared(const std::string& raw, const std::string& tag, const std::string& verb, Parser p);
  // Sends command (a whole command, its literals LITERAL+) to owner's
  // process, the selected folder's when it is that owner's, and relays
  // the answers; NO [UNAVAILABLE] when the process cannot be had.
  void forward_to_owner(const std::string& owner, const std::string& tag, const std::string& command);
  // The same, returning the tagged line (without CRLF; "" when the
  // process could not be had), relayed to the client only when asked.
  std::string to_owner(const std::string& owner, const std::string& tag, const std::string& command,
                       bool tagged_to_client);
  std::string relay(Proxy& px, const std::string& command, const std::string& tag, bool tagged_to_client);
  std::string enabled_list() const;  // what ENABLE turned on, for the owner's process
  void append_to_owner(const std::string& tag, const std::string& owner);  // append.cpp
  // COPY and MOVE between the selected folder and another owner's
  // folders, by FETCH and APPEND through the owners' processes.
  void copy_across(const std::string& tag, const std::string& raw, bool uid, bool move);
  // LIST's shared part: the namespaces' roots and each sharing owner's
  // answer to the same command (before the tagged OK of cmd_list).
  void list_shared(const std::string& raw, const std::vector<std::string>& patterns, bool lsub);

  // imapd-share for owner, its greeting read and enable's ENABLE sent.
  static ProxyPtr spawn_owner(const std::string& owner, const std::string& enable);
  ProxyPtr proxy_;  // the owner's process of the selected shared folder
  std::string raw_;                               // the command being run, as the client sent it

  // QUOTA (RFC 9208), quota.cpp.
  void cmd_getquotaroot(Cmd& c);
  void cmd_getquota(Cmd& c);
  void cmd_setquota(Cmd& c);
  std::optional<maildir_quota::Limits> quota_limits_now();
  bool put_quota(const maildir_quota::Limits& l);  // "* QUOTA ..." with the usage now
  // True when bytes and messages more fit; else answers tag NO [OVERQUOTA].
  // (and, when folder n has a root of its own, into n).
  bool quota_allows(const std::string& tag, const std::string& n, std::uint64_t bytes, std::uint64_t messages,
                    bool whole_mailbox = true);
  std::optional<maildir_quota::Limits> folder_limits(const std::string& n);
  void put_folder_quota(const std::string& n, const maildir_quota::Limits& l);
  // After an expunge: smtpd's over-quota mark goes when there is room.
  void quota_freed();
  void expunge(const std::string& tag, const SeqSet* uids);
  // Expunges the messages (of uids, when given) that have \Deleted now.
  bool remove_deleted(const SeqSet* uids);
  void deselect() { sel_.reset(); }

  // The messages of a set (sequence numbers or UIDs), as indexes in
  // order, each once; never more than the folder holds.
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
  // The header of a message (at most 1 MiB of it), with LF line ends.
  std::optional<std::string> read_header(Msg& m);
  const Message* parsed(Msg& m, bool header_only);
  std::optional<std::time_t> internal_date(Msg& m);
  std::uint32_t keyword_bits(const std::vector<std::string>& kws, Folder& f, bool create, bool& ok);
  // Sends bytes as a literal piece by piece, flushing as it goes.
  void send_literal(std::string_view data);

  // CONDSTORE, QRESYNC and ENABLE (condstore.cpp).
  struct SelectParams {
    bool condstore = false, qresync = false;
    std::uint32_t validity = 0;
    std::uint64_t modseq = 0;
    std::optional<SeqSet> known;  // the client's known UIDs
  };
  struct FetchMods {
    std::optional<std::uint64_t> changedsince;
    bool vanished = false;
  };
  bool advertised(std::string_view cap);
  // A CONDSTORE-enabling command (RFC 7162 3.1) was given.
  void condstore_on();
  bool parse_select_params(Parser& p, SelectParams& out, std::string& why);
  // SELECT (QRESYNC ...): what vanished and changed since the client's MODSEQ.
  void qresync_select(const SelectParams& q);
  bool parse_fetch_modifiers(Parser& p, bool uid, FetchMods& out, std::string& why);
  // Keeps the messages changed since CHANGEDSINCE, and sends VANISHED (EARLIER).
  void apply_changedsince(std::vector<std::size_t>& which, const FetchMods& mods, std::string_view set);
  bool parse_store_modifiers(Parser& p, std::optional<std::uint64_t>& unchangedsince, std::string& why);
  bool has_uid(std::uint32_t uid) const;
  // " MODSEQ (n)" for a FETCH response once CONDSTORE is on, else "".
  std::string modseq_item(const Msg& m) const;

  // What ENABLE (RFC 5161) has turned on for this session; each part of
  // the session reads the flag that changes its responses.
  struct Enabled {
    bool condstore = false;  // RFC 7162: MODSEQ in FETCH, HIGHESTMODSEQ
    bool qresync = false;    // RFC 7162: VANISHED instead of EXPUNGE
    bool utf8 = false;       // RFC 6855: UTF-8 mailbox names and messages
    bool rev2 = false;       // RFC 9051: IMAP4rev2 responses
  } enabled_;

  // The command being run came as UID ...: its unsolicited FETCHes name UIDs.
  bool uid_cmd_ = false;
  std::string root_;
  NetIO& io_;
  CompressTransport* compress_ = nullptr;
  std::string who_;
  std::string user_;
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
  // The message literal of the APPEND being read, spooled to a file.
  std::unique_ptr<AppendSpool> spool_;
  // NOTIFY's filters, watches and what they last saw (notify.cpp); the
  // tag of the FETCH MessageNew runs, whose tagged answer is not sent.
  std::unique_ptr<NotifyState, NotifyDeleter> notify_;
  const std::string notify_tag_ = "*";
  bool in_notify_fetch_ = false;
  friend struct Searcher;
  friend struct AppendSpool;
};

std::string uid_set_text(std::vector<std::uint32_t> uids);

}  // namespace imapd
