// repair: what reconstruct checks and repairs in one Maildir++ tree, as
// the tree's owner. Each change is one line in Report::changes, each
// problem it leaves (and why) one line in Report::problems; with dry_run
// it only says what it would change. A repaired tree gives no changes on
// the next run. See reconstruct(8).
#pragma once
#include <string>
#include <vector>

#include "mail/maildir_quota.hpp"

namespace reconstruct {

struct Report {
  std::vector<std::string> changes;
  std::vector<std::string> problems;
};

struct Options {
  bool dry_run = false;
  // The owner's limits from control/quotas (none: the file's own).
  postern::maildir_quota::Limits limits;
};

// The whole tree at root: every folder (folder.cpp), then the files of
// the root (subscriptions, maildirsize; tree.cpp).
void repair_tree(const std::string& root, const Options& o, Report& r);

// One folder's directory (folder.cpp): its subdirectories, tmp/ leftovers,
// messages in the wrong place or under a bad name, dovecot-uidlist and
// dovecot-keywords.
void repair_folder(const std::string& dir, bool is_root, const Options& o, Report& r);

}  // namespace reconstruct
