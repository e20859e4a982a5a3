// dot: classic sendmail's end of input for a message on stdin: a line of
// one '.' ends it (unless -i). Copies bytes from one descriptor to another
// until such a line or end of file; the '.' line itself is not copied, and
// no other line is changed (there is no dot-stuffing outside SMTP). The
// bytes are the user's message, copied verbatim; only the line structure
// is looked at, with no bound on line length.
#pragma once

namespace postern::sendmail {

enum class CopyResult { ok, read_error, write_error };

CopyResult copy_until_dot(int in, int out);

}  // namespace postern::sendmail
