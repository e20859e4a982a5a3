// crashfs: a FUSE pass-through of a backing directory that records every
// change (and every fsync) in a numbered log, so that the power-cut test
// can rebuild what a disk would hold after a cut at any operation.
//
//   crashfs [--cut-after N] [--ignore-dir-fsync] [--ignore-file-fsync]
//           BACKING LOG MOUNTPOINT [-o fuse-options]
//
// Runs in the foreground, single-threaded (the log's order is the order of
// the operations). SIGUSR1 cuts the power now; --cut-after N cuts it after
// operation N: from then on every operation fails with EIO and nothing more
// is logged. The --ignore modes answer fsync of a directory (or of a file)
// with success but log it as "ignored-...": the program believes it synced
// and the crash states treat it as never called.
//
// Trusts the kernel's permission checks (mount with default_permissions):
// it runs as root and gives new files the caller's uid and gid. Returns
// 0 after an unmount, 1 on bad arguments.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define FUSE_USE_VERSION 35
#include <fuse.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "oplog.hpp"

namespace {

int backing = -1;
std::unique_ptr<crashfs::OpLog> oplog;
std::uint64_t cut_after = 0;  // 0: no planned cut
volatile std::sig_atomic_t cut_signal = 0;
bool cut = false;
bool ignore_dir_fsync = false;
bool ignore_file_fsync = false;

// The backing path relative to the backing directory's fd ("." for "/").
std::string rel(const char* path) { return path[1] ? std::string(path + 1) : std::string("."); }

std::string parent_of(const char* path) {
  std::string p(path);
  auto slash = p.rfind('/');
  return slash == 0 ? std::string("/") : p.substr(0, slash);
}

unsigned long long ino_of(const std::string& path) {
  struct stat st {};
  if (::fstatat(backing, rel(path.c_str()).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
  return st.st_ino;
}

// True once the power is cut: the caller returns -EIO.
bool powered_off() {
  if (cut_signal) cut = true;
  if (cut_after && oplog->count() >= cut_after) cut = true;
  return cut;
}

void record(const std::string& text) { oplog->append(text); }

std::string num(unsigned long long n) { return std::to_string(n); }
std::string enc(const char* path) { return crashfs::encode(path + 1); }

// The owner a new file gets: the caller, with the directory's group when
// the directory is setgid (as the kernel does on ext4).
void owner_for(const char* path, uid_t& uid, gid_t& gid) {
  fuse_context* ctx = fuse_get_context();
  uid = ctx->uid;
  gid = ctx->gid;
  struct stat st {};
  if (::fstatat(backing, rel(parent_of(path).c_str()).c_str(), &st, 0) == 0 && (st.st_mode & S_ISGID)) gid = st.st_gid;
}

int fail() { return -errno; }

int fs_getattr(const char* path, struct stat* st, fuse_file_info* fi) {
  if (powered_off()) return -EIO;
  int r = fi ? ::fstat(static_cast<int>(fi->fh), st) : ::fstatat(backing, rel(path).c_str(), st, AT_SYMLINK_NOFOLLOW);
  return r == 0 ? 0 : fail();
}

int fs_readlink(const char* path, char* buf, size_t size) {
  if (powered_off()) return -EIO;
  ssize_t n = ::readlinkat(backing, rel(path).c_str(), buf, size - 1);
  if (n < 0) return fail();
  buf[n] = 0;
  return 0;
}

// Logs a new entry: "<what> ino parent-ino path mode uid gid [extra]".
void record_new(const char* what, const char* path, mode_t mode, uid_t uid, gid_t gid, const std::string& extra = "") {
  record(std::string(what) + " " + num(ino_of(path)) + " " + num(ino_of(parent_of(path))) + " " + enc(path) + " " +
         num(mode) + " " + num(uid) + " " + num(gid) + (extra.empty() ? "" : " " + extra));
}

int fs_mknod(const char* path, mode_t mode, dev_t rdev) {
  if (powered_off()) return -EIO;
  uid_t uid;
  gid_t gid;
  owner_for(path, uid, gid);
  if (::mknodat(backing, rel(path).c_str(), mode, rdev) != 0) return fail();
  ::fchownat(backing, rel(path).c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
  record_new(S_ISREG(mode) ? "create" : "mknod", path, mode, uid, gid, S_ISREG(mode) ? "" : num(rdev));
  return 0;
}

int fs_mkdir(const char* path, mode_t mode) {
  if (powered_off()) return -EIO;
  uid_t uid;
  gid_t gid;
  owner_for(path, uid, gid);
  if (::mkdirat(backing, rel(path).c_str(), mode) != 0) return fail();
  ::fchownat(backing, rel(path).c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
  record_new("mkdir", path, mode | S_IFDIR, uid, gid);
  return 0;
}

int fs_symlink(const char* target, const char* path) {
  if (powered_off()) return -EIO;
  uid_t uid;
  gid_t gid;
  owner_for(path, uid, gid);
  if (::symlinkat(target, backing, rel(path).c_str()) != 0) return fail();
  ::fchownat(backing, rel(path).c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
  record_new("symlink", path, S_IFLNK | 0777, uid, gid, crashfs::encode(target));
  return 0;
}

// unlink and rmdir: "<what> ino parent-ino path".
int remove_entry(const char* what, const char* path, bool dir) {
  if (powered_off()) return -EIO;
  auto ino = ino_of(path);
  if (::unlinkat(backing, rel(path).c_str(), dir ? AT_REMOVEDIR : 0) != 0) return fail();
  record(std::string(what) + " " + num(ino) + " " + num(ino_of(parent_of(path))) + " " + enc(path));
  return 0;
}

int fs_unlink(const char* path) { return remove_entry("unlink", path, false); }
int fs_rmdir(const char* path) { return remove_entry("rmdir", path, true); }

// rename and link: "<what> ino from-parent-ino from to-parent-ino to".
int fs_rename(const char* from, const char* to, unsigned int flags) {
  if (powered_off()) return -EIO;
  if (flags & ~RENAME_NOREPLACE) return -EINVAL;  // RENAME_EXCHANGE is not modelled
  auto ino = ino_of(from);
  if (::renameat2(backing, rel(from).c_str(), backing, rel(to).c_str(), flags) != 0) return fail();
  record("rename " + num(ino) + " " + num(ino_of(parent_of(from))) + " " + enc(from) + " " +
         num(ino_of(parent_of(to))) + " " + enc(to));
  return 0;
}

int fs_link(const char* from, const char* to) {
  if (powered_off()) return -EIO;
  if (::linkat(backing, rel(from).c_str(), backing, rel(to).c_str(), 0) != 0) return fail();
  record("link " + num(ino_of(to)) + " " + num(ino_of(parent_of(from))) + " " + enc(from) + " " +
         num(ino_of(parent_of(to))) + " " + enc(to));
  return 0;
}

int fs_chmod(const char* path, mode_t mode, fuse_file_info* fi) {
  if (powered_off()) return -EIO;
  int r = fi ? ::fchmod(static_cast<int>(fi->fh), mode) : ::fchmodat(backing, rel(path).c_str(), mode, 0);
  if (r != 0) return fail();
  record("chmod " + num(ino_of(path)) + " " + num(mode));
  return 0;
}

int fs_chown(const char* path, uid_t uid, gid_t gid, fuse_file_info* fi) {
  if (powered_off()) return -EIO;
  int r = fi ? ::fchown(static_cast<int>(fi->fh), uid, gid)
             : ::fchownat(backing, rel(path).c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
  if (r != 0) return fail();
  struct stat st {};
  ::fstatat(backing, rel(path).c_str(), &st, AT_SYMLINK_NOFOLLOW);
  record("chown " + num(st.st_ino) + " " + num(st.st_uid) + " " + num(st.st_gid));
  return 0;
}

int fs_truncate(const char* path, off_t size, fuse_file_info* fi) {
  if (powered_off()) return -EIO;
  int r;
  if (fi) {
    r = ::ftruncate(static_cast<int>(fi->fh), size);
  } else {
    int fd = ::openat(backing, rel(path).c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return fail();
    r = ::ftruncate(fd, size);
    int e = errno;
    ::close(fd);
    errno = e;
  }
  if (r != 0) return fail();
  record("trunc " + num(ino_of(path)) + " " + num(static_cast<unsigned long long>(size)));
  return 0;
}

int fs_utimens(const char* path, const struct timespec tv[2], fuse_file_info* fi) {
  if (powered_off()) return -EIO;
  // Times are not modelled: the checks never depend on them.
  int r = fi ? ::futimens(static_cast<int>(fi->fh), tv) : ::utimensat(backing, rel(path).c_str(), tv, AT_SYMLINK_NOFOLLOW);
  return r == 0 ? 0 : fail();
}

int fs_open(const char* path, fuse_file_info* fi) {
  if (powered_off()) return -EIO;
  int fd = ::openat(backing, rel(path).c_str(), (fi->flags & ~O_CREAT) | O_CLOEXEC);
  if (fd < 0) return fail();
  fi->fh = static_cast<uint64_t>(fd);
  if (fi->flags & O_TRUNC) record("trunc " + num(ino_of(path)) + " 0");
  return 0;
}

int fs_create(const char* path, mode_t mode, fuse_file_info* fi) {
  if (powered_off()) return -EIO;
  uid_t uid;
  gid_t gid;
  owner_for(path, uid, gid);
  // Whether the entry is new decides what is logged: an existing file
  // opened with O_CREAT is only (maybe) truncated.
  struct stat before {};
  bool existed = ::fstatat(backing, rel(path).c_str(), &before, AT_SYMLINK_NOFOLLOW) == 0;
  int fd = ::openat(backing, rel(path).c_str(), fi->flags | O_CLOEXEC, mode);
  if (fd < 0) return fail();
  fi->fh = static_cast<uint64_t>(fd);
  if (!existed) {
    ::fchown(fd, uid, gid);
    record_new("create", path, S_IFREG | (mode & 07777), uid, gid);
  } else if (fi->flags & O_TRUNC) {
    record("trunc " + num(before.st_ino) + " 0");
  }
  return 0;
}

int fs_read(const char*, char* buf, size_t size, off_t off, fuse_file_info* fi) {
  if (powered_off()) return -EIO;
  ssize_t n = ::pread(static_cast<int>(fi->fh), buf, size, off);
  return n < 0 ? fail() : static_cast<int>(n);
}

int fs_write(const char*, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  if (powered_off()) return -EIO;
  int fd = static_cast<int>(fi->fh);
  ssize_t n = ::pwrite(fd, buf, size, off);
  if (n < 0) return fail();
  struct stat st {};
  ::fstat(fd, &st);
  // pwrite on an O_APPEND descriptor appends whatever offset it is given:
  // log where the bytes really went.
  if (::fcntl(fd, F_GETFL) & O_APPEND) off = st.st_size - n;
  record("write " + num(st.st_ino) + " " + num(static_cast<unsigned long long>(off)) + " " +
         crashfs::encode(std::string_view(buf, static_cast<size_t>(n))));
  return static_cast<int>(n);
}

int fs_statfs(const char*, struct statvfs* st) {
  if (powered_off()) return -EIO;
  return ::fstatvfs(backing, st) == 0 ? 0 : fail();
}

int fs_release(const char*, fuse_file_info* fi) {
  ::close(static_cast<int>(fi->fh));
  return 0;
}

int fs_fsync(const char*, int, fuse_file_info* fi) {
  if (powered_off()) return -EIO;
  struct stat st {};
  ::fstat(static_cast<int>(fi->fh), &st);
  // The backing copy is never synced: durability is the log's business.
  record(std::string(ignore_file_fsync ? "ignored-fsync " : "fsync ") + num(st.st_ino));
  return 0;
}

int fs_opendir(const char* path, fuse_file_info* fi) {
  if (powered_off()) return -EIO;
  int fd = ::openat(backing, rel(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail();
  DIR* d = ::fdopendir(fd);
  if (!d) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  fi->fh = reinterpret_cast<uint64_t>(d);
  return 0;
}

int fs_readdir(const char*, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info* fi, fuse_readdir_flags) {
  if (powered_off()) return -EIO;
  DIR* d = reinterpret_cast<DIR*>(fi->fh);
  ::rewinddir(d);
  while (auto* e = ::readdir(d)) {
    struct stat st {};
    st.st_ino = e->d_ino;
    st.st_mode = static_cast<mode_t>(e->d_type) << 12;
    if (fill(buf, e->d_name, &st, 0, static_cast<fuse_fill_dir_flags>(0))) break;
  }
  return 0;
}

int fs_releasedir(const char*, fuse_file_info* fi) {
  ::closedir(reinterpret_cast<DIR*>(fi->fh));
  return 0;
}

int fs_fsyncdir(const char*, int, fuse_file_info* fi) {
  if (powered_off()) return -EIO;
  struct stat st {};
  ::fstat(::dirfd(reinterpret_cast<DIR*>(fi->fh)), &st);
  record(std::string(ignore_dir_fsync ? "ignored-fsyncdir " : "fsyncdir ") + num(st.st_ino));
  return 0;
}

void* fs_init(fuse_conn_info*, fuse_config* cfg) {
  // The backing inode numbers, as a real file system would give: queue
  // names its messages by inode number. No caching, so every operation
  // reaches us and is counted.
  cfg->use_ino = 1;
  // An unlinked open file is gone at once, as on a disk, not renamed to
  // .fuse_hidden*: the log must show the unlink the program made.
  cfg->hard_remove = 1;
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  return nullptr;
}

void on_usr1(int) { cut_signal = 1; }

int usage() {
  std::fprintf(stderr,
               "usage: crashfs [--cut-after N] [--ignore-dir-fsync] [--ignore-file-fsync] BACKING LOG MOUNTPOINT "
               "[-o options]\n");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> positional;
  std::vector<std::string> fuse_opts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--cut-after" && i + 1 < argc) {
      cut_after = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--ignore-dir-fsync") {
      ignore_dir_fsync = true;
    } else if (a == "--ignore-file-fsync") {
      ignore_file_fsync = true;
    } else if (a == "-o" && i + 1 < argc) {
      fuse_opts.push_back(argv[++i]);
    } else if (!a.empty() && a[0] == '-') {
      return usage();
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 3) return usage();
  backing = ::open(positional[0].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (backing < 0) {
    std::perror(positional[0].c_str());
    return 1;
  }
  oplog = std::make_unique<crashfs::OpLog>(positional[1]);
  struct sigaction sa {};
  sa.sa_handler = on_usr1;
  ::sigaction(SIGUSR1, &sa, nullptr);

  fuse_operations ops{};
  ops.getattr = fs_getattr;
  ops.readlink = fs_readlink;
  ops.mknod = fs_mknod;
  ops.mkdir = fs_mkdir;
  ops.unlink = fs_unlink;
  ops.rmdir = fs_rmdir;
  ops.symlink = fs_symlink;
  ops.rename = fs_rename;
  ops.link = fs_link;
  ops.chmod = fs_chmod;
  ops.chown = fs_chown;
  ops.truncate = fs_truncate;
  ops.open = fs_open;
  ops.read = fs_read;
  ops.write = fs_write;
  ops.statfs = fs_statfs;
  ops.release = fs_release;
  ops.fsync = fs_fsync;
  ops.opendir = fs_opendir;
  ops.readdir = fs_readdir;
  ops.releasedir = fs_releasedir;
  ops.fsyncdir = fs_fsyncdir;
  ops.init = fs_init;
  ops.create = fs_create;
  ops.utimens = fs_utimens;

  std::vector<std::string> args = {argv[0], positional[2], "-f", "-s"};
  for (auto& o : fuse_opts) {
    args.push_back("-o");
    args.push_back(o);
  }
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  return fuse_main(static_cast<int>(cargs.size()), cargs.data(), &ops, nullptr);
}
