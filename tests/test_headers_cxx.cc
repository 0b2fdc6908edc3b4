// The umbrella header from C++: it compiles, its declarations have C
// linkage (this program links against libmfa.so), and a few calls work.
// Prints "N passed, N failed".
#include <mfa.h>

#include <cstdio>
#include <cstring>

static int passed, failed;

static void
check(bool ok, const char *what)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        std::printf("FAIL %s\n", what);
    }
}

int
main()
{
    static const uint8_t key[] = {'1', '2', '3', '4', '5', '6', '7',
                                  '8', '9', '0', '1', '2', '3', '4',
                                  '5', '6', '7', '8', '9', '0'};
    char code[MFA_CODE_BUFSIZE];
    mfa_otp_t *otp = nullptr;

    check(mfa_init() == MFA_OK, "mfa_init");
    check(std::strcmp(mfa_version(), "") != 0, "mfa_version");
    check(mfa_version_number() == MFA_VERSION_NUMBER, "version number");
    check(std::strcmp(mfa_strerror_name(MFA_ERR_REPLAYED),
                      "MFA_ERR_REPLAYED") == 0,
          "mfa_strerror_name");
    check(mfa_otp_new(&otp, key, sizeof(key)) == MFA_OK, "mfa_otp_new");
    check(mfa_otp_set_type(otp, MFA_HOTP) == MFA_OK, "set_type");
    // RFC 4226 Appendix D, counter 1
    check(mfa_otp_hotp(otp, 1, code, sizeof(code)) == MFA_OK &&
              std::strcmp(code, "287082") == 0,
          "RFC 4226 counter 1");
    mfa_otp_free(&otp);
    check(otp == nullptr, "free sets NULL");
    check(mfa_code_bufsize() == MFA_CODE_BUFSIZE, "size constant");
    check(mfa_sealed_max() == MFA_SEALED_MAX, "sealed size constant");
    check(mfa_backup_hashbytes() == MFA_BACKUP_HASHBYTES, "backup constant");
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
