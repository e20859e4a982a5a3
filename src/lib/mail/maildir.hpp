// maildir: writing one message into a Maildir (tmp/, new/, cur/) the way
// every Maildir reader expects: the message is written and fsync'ed under
// a unique name in tmp/, then linked into new/ (or cur/ with flags, for an
// IMAP APPEND), and the directory is fsync'ed before success is reported.
// A reader never sees a partial message; a crash leaves at most a file in
// tmp/ (which readers ignore and clean up after 36 hours).
//
// Trusts the caller for the directory name and runs with the caller's
// privileges. Never throws: failures come back as false with errno() and a
// human-readable error(); every failure is temporary for mail delivery.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace postern::maildir {

// A new unique base name: "<seconds>.M<usec>P<pid>R<random hex>.<host>",
// with '/' and ':' in the host name written as \057 and \072.
std::string unique_name();

// One message being written into a Maildir. Remove-on-failure is built in:
// if commit() is never reached or fails, the tmp/ file is unlinked.
class Writer {
 public:
  // dir is the Maildir itself ("./Maildir/" or "/home/joe/Maildir").
  explicit Writer(std::string dir);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Creates tmp/<unique>. Fails (ENOENT) when dir or its tmp/ is missing.
  bool open();
  bool write(std::string_view bytes);
  // Appends everything left to read on fd, byte for byte.
  bool copy_from(int fd);
  // Makes the message durable and visible: fsync, then link to
  // new/<unique>,S=<size> (info empty) or cur/<unique>,S=<size>:<info>
  // (e.g. info "2,S"), then fsync of that directory.
  bool commit(std::string_view info = "");

  std::uint64_t size() const { return size_; }
  // The file in tmp/ while it is written (before commit()).
  const std::string& tmp_path() const { return tmp_; }
  // The path of the delivered file (dir + "new/..."), after commit().
  const std::string& path() const { return final_; }
  const std::string& error() const { return error_; }
  int error_number() const { return errno_; }

 private:
  bool fail(std::string what);
  std::string dir_;
  std::string name_;
  std::string tmp_;
  std::string final_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::string error_;
  int errno_ = 0;
};

struct Result {
  bool ok = false;
  int error_number = 0;  // errno of the failure: ENOENT for a missing Maildir
  std::string text;      // the delivered path, or what went wrong
  std::uint64_t size = 0;  // bytes delivered
};

// The whole delivery local does: prefix (Return-Path:, Delivered-To:), then
// the rest of the message on fd, into new/.
Result deliver(const std::string& dir, std::string_view prefix, int fd);

// Makes dir a new Maildir (cur, new, tmp, mode 0700): built under a
// temporary name beside it and renamed into place, so nobody sees half of
// one, then the parent's entry is synced. rename(2) replaces only an empty
// directory, so an existing file or a directory that filled up is never
// touched. false with errno set when it could not.
bool create(const std::string& dir);

}  // namespace postern::maildir
