// date: the two date formats mail needs: RFC 5322 for headers ("Sun, 22 Nov
// 2026 05:30:40 +0000") and the asctime form of mbox "From " lines.
#pragma once
#include <ctime>
#include <string>

namespace postern {

std::string rfc5322_date(std::time_t t);
std::string mbox_date(std::time_t t);

}  // namespace postern
