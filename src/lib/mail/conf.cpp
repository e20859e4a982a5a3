// conf: helpers over the compiled-in settings of auto_conf.cpp.
#include "mail/conf.hpp"

namespace postern::conf {

std::string path(std::string_view relative) {
  std::string p(home);
  p += '/';
  p += relative;
  return p;
}

}  // namespace postern::conf
