// queue_exit: the exit codes of the queue program, qmail-queue's numbers,
// in one place for queue (which exits with them) and queue_client (which
// turns them into log lines and SMTP replies). Scripts written for
// qmail-queue read them the same way: 0 queued; 11 to 40 and 91 permanent
// (the sender must not try again); anything else temporary.
#pragma once

namespace postern::queue_exit {

constexpr int queued = 0;
constexpr int address_too_long = 11;    // permanent
constexpr int refused = 31;             // permanent: a front end refused the message
constexpr int out_of_memory = 51;
constexpr int timeout = 52;             // the message or envelope came too slowly
constexpr int write_error = 53;         // write or fsync failed: disk full?
constexpr int read_error = 54;          // unable to read the message or envelope
constexpr int config_error = 55;        // unable to read a configuration file
constexpr int network_error = 56;
constexpr int home_dir = 61;            // trouble with conf-home
constexpr int queue_dir = 62;           // trouble with conf-home/queue
constexpr int pid_dir = 63;             // trouble in queue/pid
constexpr int mess_dir = 64;            // trouble in queue/mess
constexpr int intd_dir = 65;            // qmail's queue/intd; kept for its number
constexpr int todo_dir = 66;            // trouble in queue/todo (or its entry exists)
constexpr int temp_refused = 71;        // a front end refused for now
constexpr int connect_timeout = 72;
constexpr int connect_refused = 73;
constexpr int communication = 74;
constexpr int unknown_temporary = 75;
constexpr int internal = 81;            // queue could not run, or died from a signal
constexpr int envelope_format = 91;     // permanent

constexpr bool is_permanent(int code) { return (code >= 11 && code <= 40) || code == envelope_format; }

}  // namespace postern::queue_exit
