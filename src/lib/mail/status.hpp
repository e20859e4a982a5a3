// status: the exit codes every delivery program, .qmail program and queue
// front end uses (qmail's conventions), and the one-letter results that
// flow back to the scheduler.
#pragma once

namespace postern::status {

constexpr int ok = 0;
constexpr int ok_stop = 99;     // delivered; ignore the rest of the .qmail
constexpr int permanent = 100;  // bounce
constexpr int temporary = 111;  // try again later

// Results reported to send: delivered, temporary failure, permanent failure.
constexpr char delivered = 'K';
constexpr char deferred = 'Z';
constexpr char failed = 'D';

}  // namespace postern::status
