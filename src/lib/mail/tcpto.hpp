// tcpto: remote's memory of hosts that did not answer (qmail's tcpto):
// conf-home/queue/tcpto/<address> holds the time of the last connection
// attempt that timed out. remote skips such an address for an hour, unless
// every address of the destination is in the same state; a successful
// connection forgets it. Owned by posternr; the tcpto command lists and
// clears it.
#pragma once
#include <ctime>
#include <string>
#include <utility>
#include <vector>

namespace postern::tcpto {

constexpr std::time_t remember = 3600;

std::string dir();
// True when address timed out less than `remember` seconds ago.
bool recently_timed_out(const std::string& address, std::time_t now);
void record_timeout(const std::string& address, std::time_t now);
void forget(const std::string& address);
// Every remembered address with the time of its timeout.
std::vector<std::pair<std::string, std::time_t>> list();

}  // namespace postern::tcpto
