// crlf_size: see crlf_size.hpp.
#include "mail/crlf_size.hpp"

namespace postern {

void CrlfSize::feed(std::string_view in) {
  for (char ch : in) {
    if (ch == '\n' && !last_cr_) ++size_;
    ++size_;
    last_cr_ = ch == '\r';
  }
}

}  // namespace postern
