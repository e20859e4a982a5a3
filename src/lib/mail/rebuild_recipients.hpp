// rebuild_recipients: runs conf-home/bin/newrcpt, for the programs that
// change who gets mail (newu, newaliases), so that smtpd's list of
// recipients (control/recipients.cdb) follows them without the
// administrator's help. Trusts the compiled-in conf-home; returns
// newrcpt's exit code (111 when it could not run or died). newrcpt's
// output goes where the caller's goes.
#pragma once

namespace postern {

int rebuild_recipients();

}  // namespace postern
