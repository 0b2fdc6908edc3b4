#!/usr/bin/env python3
"""Every EXAMPLES block of the man pages compiles against the headers.

    check_man_examples.py CC [CFLAG ...] -- PAGE.3 ...

Each .EX/.EE block of a page's EXAMPLES section is unescaped from troff and
compiled with -fsyntax-only -Werror: a block that defines functions (a line
"{" at column 0) as a file of its own, any other block as the body of a
function.  The helpers the fragments call (die(), grant_session(), ...) and
the objects they use (ctx, kr, user, ...) are declared in PRELUDE, so a
misspelt libmfa name, a wrong argument or a stale type fails.
Prints "N passed, N failed"."""
import os
import re
import subprocess
import sys
import tempfile

PRELUDE = r'''
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sodium.h>
#include <mfa.h>
/* what the fragments take from their surroundings */
extern mfa_ctx_t *ctx;
extern mfa_keyring_t *kr;
extern mfa_store_t *store;
extern const mfa_secret_t *secret;
extern const char *user, *typed, *typed_code, *form_code, *uri;
extern const char *backup_number;
extern void *sess;
extern int64_t now;
extern mfa_rc rc;
int die(void);
int show_on_setup_page(const char *key);
int render_setup(const char *img, const char *key);
int session_set(void *s, const char *name, const char *value);
const char *session_get(void *s, const char *name);
int error_page(void);
int show_backup_codes(void);
int retry_later(uint32_t seconds);
int restart_setup(void);
int try_again(void);
int spend(size_t index);
int send_sms(const char *number, const char *code);
int service_unavailable(void);
int grant_session(const char *user);
int show_error(const char *fmt, ...);
int flash(const char *fmt, ...);
int show_codes_once(const char *const *codes, size_t n);
'''


def troff_unescape(line):
    line = line.replace("\\e", "\x00")
    line = line.replace("\\-", "-").replace("\\&", "")
    line = re.sub(r"\\\(dq", '"', line)
    return line.replace("\x00", "\\")


def examples(path):
    out, in_ex, in_ex_block, cur = [], False, False, []
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if line.startswith(".SH"):
            in_ex = line.split(None, 1)[1].strip('"') == "EXAMPLES" \
                if len(line.split(None, 1)) > 1 else False
            continue
        if not in_ex:
            continue
        if line.startswith(".EX"):
            in_ex_block, cur = True, []
        elif line.startswith(".EE"):
            in_ex_block = False
            out.append("\n".join(troff_unescape(l) for l in cur))
        elif in_ex_block:
            cur.append(line)
    return out


def main():
    if "--" not in sys.argv:
        print(__doc__)
        return 2
    i = sys.argv.index("--")
    cc, pages = sys.argv[1:i], sys.argv[i + 1:]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for page in pages:
            name = os.path.basename(page)
            for n, block in enumerate(examples(page)):
                toplevel = re.search(r"^\{", block, re.M) is not None
                src = PRELUDE + "\n#line 1 \"%s EXAMPLES %d\"\n" % (name, n + 1)
                if toplevel:
                    src += block + "\n"
                else:
                    src += "int example(void);\nint\nexample(void)\n{\n" + \
                        block + "\n    return 0;\n}\n"
                f = os.path.join(tmp, "ex.c")
                with open(f, "w", encoding="utf-8") as fh:
                    fh.write(src)
                r = subprocess.run(cc + ["-std=c11", "-fsyntax-only", "-Wall",
                                         "-Wextra", "-Werror",
                                         "-Wno-unused-function",
                                         "-Wno-unused-variable",
                                         "-Wno-unused-but-set-variable",
                                         "-Wno-missing-prototypes",
                                         "-D_DEFAULT_SOURCE", f],
                                   capture_output=True, text=True)
                if r.returncode == 0:
                    passed += 1
                else:
                    failed += 1
                    print("FAILED: %s EXAMPLES block %d does not compile:\n%s"
                          % (name, n + 1, r.stderr.strip()))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
