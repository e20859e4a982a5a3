// conf: helpers over the compiled-in settings of auto_conf.cpp. The first
// path() a program asks for checks that conf-home exists: a program built
// for a home that is not there (a typo in conf-home, make without setup)
// must stop and say so, not run on the defaults that missing control files
// mean (newaliases rebuilt /etc/aliases.cdb from such a build). Returns
// paths; dies with exit code 111 when the home is missing.
#include "mail/conf.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "mail/status.hpp"

namespace postern::conf {

namespace {

bool check_home() {
  struct stat st {};
  int r = ::stat(home, &st);
  if (r == 0 && S_ISDIR(st.st_mode)) return true;
  // Only a home that is not there: one this user may not look into is
  // the business of each file's own open.
  if (r != 0 && errno == EACCES) return true;
  std::string what = r == 0 ? " is not a directory" : std::string(" does not exist: ") + std::strerror(errno);
  log::die(status::temporary, std::string("conf-home ") + home + what +
                                  "; this program was built for it (make setup installs it there)");
}

}  // namespace

std::string path(std::string_view relative) {
  static const bool home_checked = check_home();
  (void)home_checked;
  std::string p(home);
  p += '/';
  p += relative;
  return p;
}

}  // namespace postern::conf
