// common: the scratch directory and file helpers of common.hpp. Trusts the
// paths its callers (the fuzz targets) give; reports failure by aborting,
// since a target without its directory would test nothing.
#include "common.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fuzz {

namespace fs = std::filesystem;

namespace {

std::string make_scratch() {
  // Memory (/dev/shm) when TMPDIR does not say otherwise: the session
  // targets make and remove directories for every input.
  const char* tmp = std::getenv("TMPDIR");
  struct stat st {};
  std::string base = tmp && *tmp == '/' ? tmp : ::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
  std::string pattern = base + "/postern-fuzz-XXXXXX";
  if (!::mkdtemp(pattern.data())) fail("mkdtemp", pattern);
  return pattern;
}

void remove_scratch() {
  std::error_code ec;
  fs::remove_all(scratch_dir(), ec);
}

// A copy of descriptor 2 taken before libFuzzer may close it.
const int report_fd = ::dup(2);

}  // namespace

void fail(const char* what, std::string_view detail) {
  std::string text = std::string("fuzz invariant broken: ") + what + "\n";
  if (!detail.empty()) text += "  detail: " + std::string(detail.substr(0, 2000)) + "\n";
  if (::write(report_fd >= 0 ? report_fd : 2, text.data(), text.size()) < 0) {
  }
  std::abort();
}

const std::string& scratch_dir() {
  // Never destroyed: remove_scratch runs at exit, after static destructors
  // registered later than it.
  static const std::string* dir = [] {
    auto* d = new std::string(make_scratch());
    std::atexit(remove_scratch);
    return d;
  }();
  return *dir;
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) fail("remove_all", path + ": " + ec.message());
}

void copy_tree(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy(from, to, fs::copy_options::recursive, ec);
  if (ec) fail("copy", from + " -> " + to + ": " + ec.message());
}

void write_file(const std::string& path, std::string_view text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!f) fail("write", path);
}

}  // namespace fuzz
