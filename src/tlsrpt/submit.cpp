// submit: see submit.hpp.
#include "submit.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/io.hpp"
#include "mail/conf.hpp"

namespace postern::tlsrpt {

namespace {

std::string by_mail(const std::string& to, const ReportInfo& info, const std::string& gz) {
  std::string message = report_mail(info, to, gz);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return std::string("unable to create a pipe: ") + std::strerror(errno);
  std::string inject = conf::path("bin/inject");
  std::vector<std::string> args = {inject, "-f", info.contact, "--", to};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(p[0]);
    ::close(p[1]);
    return "unable to fork";
  }
  if (pid == 0) {
    // inject's own output would go where tlsrpt's goes: to the log.
    if (::dup2(p[0], 0) < 0 || ::dup2(2, 1) < 0) ::_exit(111);
    char* env[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
    ::execve(argv[0], argv.data(), env);
    ::_exit(111);
  }
  ::close(p[0]);
  bool written = write_all(p[1], message);
  ::close(p[1]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!written) return "unable to write the report to inject";
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return "inject failed (" + std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)) + ")";
  return "";
}

size_t discard(char*, size_t size, size_t count, void*) { return size * count; }

std::string by_https(const std::string& url, const std::string& gz) {
  CURL* curl = curl_easy_init();
  if (!curl) return "unable to start libcurl";
  char error[CURL_ERROR_SIZE] = "";
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/tlsrpt+gzip");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_CAPATH, "/etc/ssl/certs");
  std::string private_cas = conf::path("control/tlsremoteca");
  struct stat st;
  if (::stat(private_cas.c_str(), &st) == 0) curl_easy_setopt(curl, CURLOPT_CAINFO, private_cas.c_str());
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "postern tlsrpt");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, gz.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(gz.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) return error[0] ? error : curl_easy_strerror(rc);
  if (status < 200 || status > 299) return "HTTP status " + std::to_string(status);
  return "";
}

}  // namespace

std::string submit(const Rua& to, const ReportInfo& info, const std::string& gz) {
  return to.kind == Rua::Kind::mail ? by_mail(to.target, info, gz) : by_https(to.target, gz);
}

}  // namespace postern::tlsrpt
